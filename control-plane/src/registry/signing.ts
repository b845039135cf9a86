/**
 * ed25519 signing of model versions and trust bundles (node:crypto). Private keys are loaded by the
 * keyring (`keyring.ts`); only public keys are stored (signing_keys).
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import type { Signer } from './ports.js';

/** DER prefixes that wrap a raw ed25519 seed (PKCS#8) and public key (SPKI), RFC 8410. */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** Key id: first 16 hex characters of sha256(raw 32-byte public key). */
export function keyIdOf(rawPublicKey: Uint8Array): string {
  return createHash('sha256').update(rawPublicKey).digest('hex').slice(0, 16);
}

/**
 * Parses a private key file's text: PKCS#8 PEM, or base64 of the raw 32-byte seed.
 * @throws Error when the text is neither or the key is not ed25519.
 */
export function parsePrivateKey(text: string): KeyObject {
  const trimmed = text.trim();
  const key = trimmed.startsWith('-----BEGIN') ? createPrivateKey(trimmed) : fromSeed(trimmed);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`key type is ${key.asymmetricKeyType}, expected ed25519`);
  return key;
}

function fromSeed(base64: string): KeyObject {
  const seed = Buffer.from(base64, 'base64');
  if (seed.length !== 32) throw new Error(`a raw seed must be 32 bytes of base64, got ${seed.length} bytes`);
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

export function rawPublicKey(key: KeyObject): Uint8Array {
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(spki.length - 32));
}

/** Verifies a raw ed25519 signature with a raw public key given in base64 (as listed by ListTrustKeys). */
export function verifyEd25519(publicKeyB64: string, payload: Uint8Array, signature: Uint8Array): boolean {
  const raw = Buffer.from(publicKeyB64, 'base64');
  if (raw.length !== 32) return false;
  const key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
  return verify(null, payload, key, signature);
}

/** One ed25519 private key (the active key, or an older one that still signs trust bundles). */
export class Ed25519Signer implements Signer {
  readonly keyId: string;
  /** Raw public key, base64. */
  readonly publicKey: string;

  constructor(private readonly key: KeyObject) {
    const raw = rawPublicKey(key);
    this.keyId = keyIdOf(raw);
    this.publicKey = Buffer.from(raw).toString('base64');
  }

  sign(payload: Uint8Array): Uint8Array {
    return new Uint8Array(sign(null, payload, this.key));
  }
}
