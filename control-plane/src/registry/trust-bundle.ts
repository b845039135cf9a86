import type { TrustBundleContent, TrustBundleData } from './domain.js';
import type { BundleEncoder, Signer } from './ports.js';

/**
 * Bundle signatures cover this prefix followed by the payload (the agent checks the same), so a
 * bundle signature can never pass for an artifact signature, which covers bare SignedPayload bytes.
 */
export const TRUST_BUNDLE_CONTEXT = Buffer.from('millwright.v1.TrustBundle\n', 'ascii');

/** Encodes `content` once and signs the bytes with every signer (the active key first). */
export function signBundle(content: TrustBundleContent, encode: BundleEncoder, signers: Signer[]): TrustBundleData {
  const payload = encode(content);
  const message = Buffer.concat([TRUST_BUNDLE_CONTEXT, payload]);
  return {
    sequence: content.sequence,
    payload: Buffer.from(payload).toString('base64'),
    signatures: signers.map((s) => ({ keyId: s.keyId, signature: Buffer.from(s.sign(message)).toString('base64') })),
  };
}
