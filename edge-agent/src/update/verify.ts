import { IntegrityError } from '../domain/errors.js';
import type { SignedPayloadDecoder } from './ports.js';
import { refusal, type TrustStore } from './trust.js';
import type { ArtifactSignature, SignedRelease } from './types.js';

/** The version running now, as far as anti-rollback cares. */
export interface RunningVersion {
  model: string;
  version: string;
  sequence: number;
}

/**
 * Verifies the signature and decodes the signed release; the manifest used from here on is the
 * signed one, never an unsigned copy. Also binds it to the model and version the desired state names.
 * @throws IntegrityError (`unsigned`, `unknown_key`, `bad_signature`, `bad_payload`, `identity_mismatch`).
 */
export function verifySignedRelease(
  trust: TrustStore,
  decode: SignedPayloadDecoder,
  expected: { model: string; version: string; signature: ArtifactSignature | undefined },
): SignedRelease {
  return bindRelease(decode, trust.verify(expected.signature), expected);
}

/**
 * Like `verifySignedRelease`, for a signature by a key that is now revoked: only for restoring the one
 * model an agent has when nothing else can run (docs/SECURITY.md), never for installing.
 * @throws IntegrityError (`unsigned`, `unknown_key`, `bad_signature`, `bad_payload`, `identity_mismatch`).
 */
export function verifyRevokedRelease(
  trust: TrustStore,
  decode: SignedPayloadDecoder,
  expected: { model: string; version: string; signature: ArtifactSignature | undefined },
): SignedRelease {
  if (!expected.signature?.payload || !expected.signature.signature)
    throw refusal('unsigned', 'artifact is not signed');
  return bindRelease(decode, trust.verifyRevoked(expected.signature), expected);
}

function bindRelease(decode: SignedPayloadDecoder, bytes: Uint8Array, expected: { model: string; version: string }) {
  const release = decodeOrRefuse(decode, bytes);
  const m = release.manifest;
  if (m.model !== expected.model || m.version !== expected.version) {
    throw refusal(
      'identity_mismatch',
      `signed manifest is ${m.model}@${m.version}, desired state names ${expected.model}@${expected.version}`,
    );
  }
  return release;
}

function decodeOrRefuse(decode: SignedPayloadDecoder, bytes: Uint8Array): SignedRelease {
  try {
    return decode(bytes);
  } catch (err) {
    if (err instanceof IntegrityError) throw err;
    throw refusal('bad_payload', `signed payload does not decode: ${(err as Error).message}`);
  }
}

/**
 * Refuses a sequence not above the running one, unless the release is a signed explicit rollback
 * away from exactly the running version (so an old signed rollback cannot be replayed elsewhere).
 * @throws IntegrityError with reason `rollback_refused`.
 */
export function checkAntiRollback(release: SignedRelease, running: RunningVersion | undefined): void {
  if (!running || running.model !== release.manifest.model) return;
  const { sequence, version } = release.manifest;
  if (sequence > running.sequence) return;
  if (release.rollback && release.rollbackFrom === running.version) return;
  const why = release.rollback
    ? `a signed rollback from ${release.rollbackFrom || '(none)'}, but ${running.version} is running`
    : 'not a signed rollback';
  throw refusal(
    'rollback_refused',
    `refusing ${version} (sequence ${sequence}) over ${running.version} (sequence ${running.sequence}): ${why}`,
    { sequence, runningSequence: running.sequence },
  );
}

/** @throws IntegrityError `size_mismatch` or `digest_mismatch` when the bytes differ from the signed ones. */
export function checkDigest(release: SignedRelease, got: { sha256: string; size: number }): void {
  if (got.size !== release.sizeBytes) {
    throw refusal('size_mismatch', `artifact has ${got.size} bytes, signed size is ${release.sizeBytes}`);
  }
  if (got.sha256 !== release.sha256.toLowerCase()) {
    throw refusal('digest_mismatch', `artifact sha256 ${got.sha256} differs from the signed ${release.sha256}`);
  }
}
