import { createHash, createPublicKey, type KeyObject, verify } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, IntegrityError } from '../domain/errors.js';
import type { ArtifactSignature } from './types.js';

/** The identity written at enrollment; its `trustKeys` are base64 raw ed25519 public keys to pin. */
export const IDENTITY_FILE = join('identity', 'identity.json');

/** Why an artifact was refused; carried in `IntegrityError.details.reason`. */
export type RefusalReason =
  | 'unsigned'
  | 'unknown_key'
  | 'bad_signature'
  | 'bad_payload'
  | 'digest_mismatch'
  | 'size_mismatch'
  | 'rollback_refused'
  | 'identity_mismatch';

/** Key id as the control plane writes it: first 16 hex chars of sha256(raw 32-byte public key). */
export function keyIdOf(rawPublicKey: Uint8Array): string {
  return createHash('sha256').update(rawPublicKey).digest('hex').slice(0, 16);
}

/** The refusal thrown for every check that fails; `reason` is machine-readable. */
export function refusal(reason: RefusalReason, message: string, details: Record<string, unknown> = {}) {
  return new IntegrityError(message, { reason, ...details });
}

/**
 * Pinned ed25519 public keys. Several keys at once is how rotation works: the agent trusts the old
 * and new key until the control plane stops signing with the old one.
 */
export class TrustStore {
  private constructor(private readonly keys: ReadonlyMap<string, KeyObject>) {}

  /** @throws ConfigError naming every key that is not base64 of 32 raw bytes. */
  static fromBase64(keys: readonly string[]): TrustStore {
    const byId = new Map<string, KeyObject>();
    const issues: string[] = [];
    for (const [i, b64] of keys.entries()) {
      const raw = Buffer.from(b64, 'base64');
      if (raw.length !== 32) {
        issues.push(`trust.keys.${i}: expected base64 of a 32-byte ed25519 public key, got ${raw.length} bytes`);
        continue;
      }
      byId.set(keyIdOf(raw), publicKeyFromRaw(raw));
    }
    if (issues.length > 0) throw new ConfigError(issues);
    return new TrustStore(byId);
  }

  keyIds(): string[] {
    return [...this.keys.keys()];
  }

  /**
   * Checks the signature over the exact payload bytes and returns those bytes.
   * @throws IntegrityError with reason `unsigned`, `unknown_key` or `bad_signature`.
   */
  verify(sig: ArtifactSignature | undefined): Uint8Array {
    if (!sig?.payload || !sig.signature) throw refusal('unsigned', 'artifact is not signed');
    const key = this.keys.get(sig.keyId);
    if (!key) {
      throw refusal('unknown_key', `signed by unknown key ${sig.keyId} (trusted: ${this.keyIds().join(', ')})`, {
        keyId: sig.keyId,
      });
    }
    const payload = Buffer.from(sig.payload, 'base64');
    const signature = Buffer.from(sig.signature, 'base64');
    if (signature.length !== 64 || !verify(null, payload, key, signature)) {
      throw refusal('bad_signature', `signature by key ${sig.keyId} does not verify`, { keyId: sig.keyId });
    }
    return new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
  }
}

function publicKeyFromRaw(raw: Buffer): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
}

/**
 * Config keys plus the ones learnt at enrollment (`trustKeys` of `<dataDir>/identity/identity.json`),
 * when the agent enrolled.
 * @throws ConfigError when the identity file exists but its `trustKeys` is not an array of strings.
 */
export async function loadTrustKeys(configKeys: readonly string[], dataDir: string): Promise<string[]> {
  const path = join(dataDir, IDENTITY_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [...configKeys];
    throw err;
  }
  const learnt = (JSON.parse(text) as { trustKeys?: unknown }).trustKeys ?? [];
  if (!Array.isArray(learnt) || !learnt.every((k) => typeof k === 'string')) {
    throw new ConfigError([`${path}: trustKeys must be an array of base64 public keys`]);
  }
  return [...new Set([...configKeys, ...learnt])];
}
