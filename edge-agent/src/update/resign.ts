import { IntegrityError } from '../domain/errors.js';
import type { PrepareDeps } from './prepare.js';
import type { DesiredArtifact } from './types.js';
import { verifySignedRelease } from './verify.js';

/**
 * Adopts a new signature of an installed version. After a key rotation or revocation the control plane
 * re-signs deployed versions with its active key: same signed bytes, another key. Storing that signature
 * lets the version restore after a restart once the old key is revoked. Nothing but the signature
 * changes: the payload must be byte-identical to the installed one and verify with a trusted key.
 * @returns true when the installed signature was replaced.
 */
export async function adoptSignature(
  deps: Pick<PrepareDeps, 'store' | 'trust' | 'decode' | 'log'>,
  a: DesiredArtifact,
): Promise<boolean> {
  const sig = a.signature;
  const ref = { model: a.model, version: a.version };
  const installed = await deps.store.readInstalled(ref).catch(() => undefined);
  if (!sig || !installed) return false;
  const cur = installed.signature;
  if (cur.payload !== sig.payload || (cur.keyId === sig.keyId && cur.signature === sig.signature)) return false;
  try {
    verifySignedRelease(deps.trust, deps.decode, { ...ref, signature: sig });
  } catch (err) {
    if (!(err instanceof IntegrityError)) throw err;
    deps.log.warn({ ...ref, keyId: sig.keyId, reason: err.message }, 'update.signature.not_adopted');
    return false;
  }
  await deps.store.writeSignature(ref, sig);
  deps.log.info({ ...ref, keyId: sig.keyId, previousKeyId: cur.keyId }, 'update.signature.adopted');
  return true;
}
