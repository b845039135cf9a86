/**
 * Signed trust bundles: how the control plane tells agents which signing keys to trust and which are
 * revoked. Pure verification here; persistence and the live swap are in `trust-keeper.ts`.
 */
import { IntegrityError } from '../domain/errors.js';
import { keyIdOf, refusal, type TrustStore } from './trust.js';

/** A trust bundle as delivered in the desired state: the signed bytes and one signature per key. */
export interface SignedTrustBundle {
  /** The encoded TrustBundlePayload, exactly as signed. */
  payload: Uint8Array;
  signatures: { keyId: string; signature: Uint8Array }[];
}

/** What a verified bundle says. */
export interface TrustBundleContent {
  sequence: number;
  /** Every trusted control-plane key: id and base64 raw ed25519 public key. */
  keys: { keyId: string; publicKey: string }[];
  revokedKeyIds: string[];
  issuedAtMs: number;
}

/**
 * Decodes verified payload bytes.
 * @throws IntegrityError (reason `bad_payload`) when the bytes are not a TrustBundlePayload.
 */
export type TrustBundleDecoder = (bytes: Uint8Array) => TrustBundleContent;

/**
 * Signatures cover this prefix followed by the payload: a bundle signature can never pass for an
 * artifact signature (those cover the bare SignedPayload bytes) nor the reverse.
 */
export const TRUST_BUNDLE_CONTEXT = Buffer.from('millwright.v1.TrustBundle\n', 'ascii');

/** The bytes a bundle signature covers. */
export function bundleMessage(payload: Uint8Array): Uint8Array {
  return Buffer.concat([TRUST_BUNDLE_CONTEXT, payload]);
}

/**
 * Accepts a bundle when one of its signatures verifies with a key `trust` holds and has not revoked,
 * and its sequence is above `heldSequence` (a replayed or older bundle is refused).
 * @throws IntegrityError with reason `unsigned`, `revoked_key`, `unknown_key`, `bad_signature`,
 *   `bad_payload` or `stale_bundle`.
 */
export function verifyTrustBundle(
  trust: TrustStore,
  heldSequence: number,
  bundle: SignedTrustBundle,
  decode: TrustBundleDecoder,
): TrustBundleContent {
  checkSignatures(trust, bundle);
  const content = decodeOrRefuse(decode, bundle.payload);
  if (content.sequence <= heldSequence) {
    throw refusal(
      'stale_bundle',
      `trust bundle ${content.sequence} is not above the bundle in effect (${heldSequence}): replayed or out of date`,
      { sequence: content.sequence, heldSequence },
    );
  }
  for (const k of content.keys) checkKeyId(k);
  return content;
}

/** Passes on the first good signature; otherwise refuses with the most telling reason seen. */
function checkSignatures(trust: TrustStore, bundle: SignedTrustBundle): void {
  if (bundle.signatures.length === 0 || bundle.payload.length === 0) {
    throw refusal('unsigned', 'trust bundle is not signed');
  }
  const message = bundleMessage(bundle.payload);
  const refusals: IntegrityError[] = [];
  for (const s of bundle.signatures) {
    try {
      trust.verifyDetached(s.keyId, message, s.signature);
      return;
    } catch (err) {
      if (!(err instanceof IntegrityError)) throw err;
      refusals.push(err);
    }
  }
  const rank = ['bad_signature', 'revoked_key', 'unknown_key'];
  refusals.sort((a, b) => rank.indexOf(String(a.details.reason)) - rank.indexOf(String(b.details.reason)));
  const first = refusals[0]!;
  throw refusal(
    first.details.reason as 'bad_signature' | 'revoked_key' | 'unknown_key',
    `trust bundle refused: ${refusals.map((e) => e.message).join('; ')}`,
    { keyIds: bundle.signatures.map((s) => s.keyId) },
  );
}

function decodeOrRefuse(decode: TrustBundleDecoder, bytes: Uint8Array): TrustBundleContent {
  try {
    return decode(bytes);
  } catch (err) {
    if (err instanceof IntegrityError) throw err;
    throw refusal('bad_payload', `trust bundle payload does not decode: ${(err as Error).message}`);
  }
}

function checkKeyId(k: { keyId: string; publicKey: string }): void {
  const raw = Buffer.from(k.publicKey, 'base64');
  if (raw.length !== 32 || keyIdOf(raw) !== k.keyId) {
    throw refusal('bad_payload', `trust bundle lists key ${k.keyId} with a public key that does not match its id`);
  }
}
