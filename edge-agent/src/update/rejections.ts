import { createHash } from 'node:crypto';
import { IntegrityError } from '../domain/errors.js';
import type { RejectedVersion } from './model-store.js';
import type { PrepareDeps } from './prepare.js';
import type { ArtifactSignature, DesiredArtifact, DesiredUpdate } from './types.js';
import { verifySignedRelease } from './verify.js';

/** sha256 (hex) of the signed payload bytes: the same across re-signatures by other keys. */
export function signedPayloadSha256(sig: ArtifactSignature | undefined): string {
  return createHash('sha256')
    .update(Buffer.from(sig?.payload ?? '', 'base64'))
    .digest('hex');
}

/** What the watchdog's verdict on `a`, installed by desired state `d`, is remembered as. */
export function rejectionOf(d: DesiredUpdate, a: DesiredArtifact, reason: string): RejectedVersion {
  return {
    model: a.model,
    version: a.version,
    rolloutId: d.rolloutId,
    generation: d.generation,
    payloadSha256: signedPayloadSha256(a.signature),
    reason,
  };
}

/**
 * The rejection that keeps `a` from being installed again, if any. A rejection holds for its rollout:
 * every key rotation or revocation re-issues each desired state (generation + 1, same rollout and model),
 * and that must not retry a version the watchdog threw out. Another rollout may offer it again, and so
 * may a signed rollback other than the one rejected (an operator's explicit decision). Rejections
 * written by older agents carry no rollout and still hold for their generation only.
 */
export function rejectionFor(
  deps: Pick<PrepareDeps, 'trust' | 'decode'>,
  rejected: readonly RejectedVersion[],
  d: DesiredUpdate,
  a: DesiredArtifact,
): RejectedVersion | undefined {
  const r = rejected.findLast(
    (x) =>
      x.model === a.model &&
      x.version === a.version &&
      (x.rolloutId === undefined ? x.generation === d.generation : x.rolloutId === d.rolloutId),
  );
  if (!r) return undefined;
  const sameRelease = r.payloadSha256 === undefined || r.payloadSha256 === signedPayloadSha256(a.signature);
  return sameRelease || !isSignedRollback(deps, a) ? r : undefined;
}

/** Whether `a` verifies as a signed explicit rollback (an unverifiable one is not). */
function isSignedRollback(deps: Pick<PrepareDeps, 'trust' | 'decode'>, a: DesiredArtifact): boolean {
  try {
    return verifySignedRelease(deps.trust, deps.decode, a).rollback;
  } catch (err) {
    if (err instanceof IntegrityError) return false;
    throw err;
  }
}
