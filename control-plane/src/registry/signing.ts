/**
 * ed25519 signing of model versions (node:crypto). The private key comes from `signing.keyFile`
 * (PKCS#8 PEM or the raw 32-byte seed in base64); for development, `signing.devKeyDir` generates
 * one on first start and reuses it. Only public keys are stored (signing_keys); rotating means
 * pointing `signing.keyFile` at a new key: the old public key stays listed as a trust key.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../domain/errors.js';
import type { Signer } from './ports.js';

/** DER prefixes that wrap a raw ed25519 seed (PKCS#8) and public key (SPKI), RFC 8410. */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
export const DEV_KEY_FILE = 'signing-key.pem';

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

/** The active signing key. */
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

/** Where the signing key comes from (the `signing` config section). */
export interface SigningKeySource {
  /** PKCS#8 PEM or base64 raw seed. Wins over `devKeyDir`. */
  keyFile?: string;
  /** Development only: a key is generated into this directory on first start. */
  devKeyDir?: string;
}

/**
 * Loads the configured key, or the development key (created on first use); undefined when
 * neither is configured (the registry then refuses uploads).
 * @throws ConfigError naming the key when the file cannot be read or parsed.
 */
export function loadSigner(src: SigningKeySource): Ed25519Signer | undefined {
  if (src.keyFile) return new Ed25519Signer(readKey('signing.keyFile', src.keyFile));
  if (!src.devKeyDir) return undefined;
  const file = join(src.devKeyDir, DEV_KEY_FILE);
  mkdirSync(src.devKeyDir, { recursive: true, mode: 0o700 });
  try {
    const pem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' });
    // 'wx': two replicas sharing the directory must end up with the same key.
    writeFileSync(file, pem, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return new Ed25519Signer(readKey('signing.devKeyDir', file));
}

function readKey(configKey: string, file: string): KeyObject {
  try {
    return parsePrivateKey(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError([`${configKey}: cannot use ${file} as an ed25519 private key: ${(err as Error).message}`]);
  }
}
