import { IntegrityError } from '../domain/errors.js';
import type { VersionRef } from './model-store.js';
import type { PrepareDeps } from './prepare.js';
import type { DesiredUpdate, VersionSignature } from './types.js';
import { verifySignedRelease } from './verify.js';

type AdoptDeps = Pick<PrepareDeps, 'store' | 'trust' | 'decode' | 'log'>;

/**
 * Adopts a new signature of an installed version. After a key rotation or revocation the control plane
 * re-signs deployed versions with its active key: same signed bytes, another key. Storing that signature
 * lets the version restore after a restart once the old key is revoked. Nothing but the signature
 * changes: the payload must be byte-identical to the installed one and verify with a trusted key.
 * @returns the key id of the adopted signature, or undefined when nothing changed.
 */
export async function adoptSignature(deps: AdoptDeps, v: VersionSignature): Promise<string | undefined> {
  const sig = v.signature;
  const ref = { model: v.model, version: v.version };
  const installed = await deps.store.readInstalled(ref).catch(() => undefined);
  if (!sig || !installed) return undefined;
  const cur = installed.signature;
  if (cur.payload !== sig.payload || (cur.keyId === sig.keyId && cur.signature === sig.signature)) return undefined;
  try {
    verifySignedRelease(deps.trust, deps.decode, { ...ref, signature: sig });
  } catch (err) {
    if (!(err instanceof IntegrityError)) throw err;
    deps.log.warn({ ...ref, keyId: sig.keyId, reason: err.message }, 'update.signature.not_adopted');
    return undefined;
  }
  await deps.store.writeSignature(ref, sig);
  deps.log.info({ ...ref, keyId: sig.keyId, previousKeyId: cur.keyId }, 'update.signature.adopted');
  return sig.keyId;
}

/**
 * Adopts every signature the desired state carries for the installed versions `refs`: its model and
 * shadow and its `resignatures` (the running and fallback versions, whatever the desired model is). A
 * version may be offered several signatures (its upload signature, signed rollbacks of it): only one
 * over its installed payload can be adopted.
 * @returns each version whose signature was replaced, with the key id of the adopted one.
 */
export async function adoptResignatures(
  deps: AdoptDeps,
  d: DesiredUpdate,
  refs: readonly VersionRef[],
): Promise<{ ref: VersionRef; keyId: string }[]> {
  const offered = [d.model, d.shadow, ...(d.resignatures ?? [])].filter((v): v is VersionSignature => !!v);
  const adopted: { ref: VersionRef; keyId: string }[] = [];
  for (const ref of refs) {
    for (const v of offered.filter((o) => o.model === ref.model && o.version === ref.version)) {
      const keyId = await adoptSignature(deps, v);
      if (keyId) {
        adopted.push({ ref, keyId });
        break;
      }
    }
  }
  return adopted;
}

export function refKey(ref: VersionRef): string {
  return `${ref.model}@${ref.version}`;
}
