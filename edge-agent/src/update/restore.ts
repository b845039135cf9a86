import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { runSelfTest } from '../inference/selftest.js';
import type { CurrentPointer, VersionRef } from './model-store.js';
import { type Candidate, type PrepareDeps, restoreVersion } from './prepare.js';
import { checkDigest, verifyRevokedRelease } from './verify.js';

/** A restored version and the key its installed signature is by. */
export interface Restored extends Candidate {
  keyId: string;
}

/**
 * Loads the pointer's active and previous versions from disk at start (no network needed), each
 * re-verified. When neither verifies with a trusted key, the active (else the previous) version is
 * restored if only a revoked key signed it: a running line keeps a model it already ran, reported as
 * signed by a revoked key, rather than none at all. With any trusted alternative a version signed only
 * by a revoked key is not restored (docs/SECURITY.md).
 */
export async function restoreModels(
  deps: PrepareDeps,
  pointer: CurrentPointer,
): Promise<{ active?: Restored; previous?: Restored }> {
  const previous = pointer.previous && (await tryRestore(deps, pointer.previous));
  const active = pointer.active && (await tryRestore(deps, pointer.active));
  if (active || previous) return { active, previous };
  for (const ref of [pointer.active, pointer.previous]) {
    const last = ref && (await lastResort(deps, ref));
    if (last) return ref === pointer.active ? { active: last } : { previous: last };
  }
  return {};
}

async function tryRestore(deps: PrepareDeps, ref: VersionRef): Promise<Restored | undefined> {
  try {
    const cand = await restoreVersion(deps, ref);
    return { ...cand, keyId: (await deps.store.readInstalled(ref)).signature.keyId };
  } catch (err) {
    deps.log.error({ err, ...ref }, 'update.restore.failed');
    return undefined;
  }
}

/**
 * Like `restoreVersion`, accepting a signature by a revoked key (still verified with that key's public
 * key, which the trust state keeps for this alone), the digest and the self-test.
 */
async function lastResort(deps: PrepareDeps, ref: VersionRef): Promise<Restored | undefined> {
  try {
    const installed = await deps.store.readInstalled(ref);
    const release = verifyRevokedRelease(deps.trust, deps.decode, { ...ref, ...installed });
    const bytes = await readFile(installed.artifactPath);
    checkDigest(release, { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length });
    const model = await deps.registry.loadModel(release.manifest, bytes);
    const outcome = await runSelfTest(model);
    if (!outcome.passed) {
      model.dispose();
      throw new Error(`self-test failed: ${outcome.failures.join('; ')}`);
    }
    deps.log.error({ ...ref, keyId: installed.signature.keyId }, 'update.restore.revoked_key_last_resort');
    return { ref, release, model, keyId: installed.signature.keyId };
  } catch (err) {
    deps.log.debug({ err, ...ref }, 'update.restore.last_resort_failed');
    return undefined;
  }
}
