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
  | 'identity_mismatch'
  | 'revoked_key'
  | 'stale_bundle';

/** Key id as the control plane writes it: first 16 hex chars of sha256(raw 32-byte public key). */
export function keyIdOf(rawPublicKey: Uint8Array): string {
  return createHash('sha256').update(rawPublicKey).digest('hex').slice(0, 16);
}

/** The refusal thrown for every check that fails; `reason` is machine-readable. */
export function refusal(reason: RefusalReason, message: string, details: Record<string, unknown> = {}) {
  return new IntegrityError(message, { reason, ...details });
}

/** A trust set as plain data: base64 raw public keys by key id, and revoked key ids. */
export interface TrustSet {
  keys: ReadonlyMap<string, string>;
  revoked: ReadonlySet<string>;
  /**
   * Public keys of revoked keys, where known: used only to restore the last model an agent has when
   * nothing else can run (`verifyRevoked`), never to install anything.
   */
  retired?: ReadonlyMap<string, string>;
}

/**
 * The ed25519 public keys this agent trusts, minus the revoked ones. Several keys at once is how
 * rotation works; an accepted trust bundle replaces the set in place (`replace`), so everything
 * holding this store sees the new keys at once.
 */
export class TrustStore {
  private keys: ReadonlyMap<string, KeyObject>;
  private revoked: ReadonlySet<string>;
  private retired: ReadonlyMap<string, KeyObject>;

  private constructor(set: TrustSet) {
    this.keys = keyObjects(set);
    this.revoked = new Set(set.revoked);
    this.retired = retiredKeyObjects(set);
  }

  /** @throws ConfigError naming every key that is not base64 of 32 raw bytes. */
  static fromBase64(keys: readonly string[], revoked: Iterable<string> = []): TrustStore {
    return new TrustStore({ keys: parseKeys(keys), revoked: new Set(revoked) });
  }

  static fromSet(set: TrustSet): TrustStore {
    return new TrustStore(set);
  }

  replace(set: TrustSet): void {
    this.keys = keyObjects(set);
    this.revoked = new Set(set.revoked);
    this.retired = retiredKeyObjects(set);
  }

  /** Trusted key ids (revoked ones excluded). */
  keyIds(): string[] {
    return [...this.keys.keys()];
  }

  isRevoked(keyId: string): boolean {
    return this.revoked.has(keyId);
  }

  /**
   * Checks the signature over the exact payload bytes and returns those bytes.
   * @throws IntegrityError with reason `unsigned`, `revoked_key`, `unknown_key` or `bad_signature`.
   */
  verify(sig: ArtifactSignature | undefined): Uint8Array {
    if (!sig?.payload || !sig.signature) throw refusal('unsigned', 'artifact is not signed');
    const payload = Buffer.from(sig.payload, 'base64');
    this.verifyDetached(sig.keyId, payload, Buffer.from(sig.signature, 'base64'));
    return new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
  }

  /**
   * Checks a signature made by a key that is now revoked and returns the payload bytes. Only for the
   * last resort of restoring the one model an agent has (docs/SECURITY.md): never for installing.
   * @throws IntegrityError `unknown_key` when the key is not revoked or its public key is not known,
   *   `bad_signature` when the signature does not verify with it.
   */
  verifyRevoked(sig: ArtifactSignature): Uint8Array {
    const key = this.revoked.has(sig.keyId) ? this.retired.get(sig.keyId) : undefined;
    if (!key) throw refusal('unknown_key', `key ${sig.keyId} is not a revoked key with a known public key`);
    const payload = Buffer.from(sig.payload, 'base64');
    const signature = Buffer.from(sig.signature, 'base64');
    if (signature.length !== 64 || !verify(null, payload, key, signature)) {
      throw refusal('bad_signature', `signature by revoked key ${sig.keyId} does not verify`, { keyId: sig.keyId });
    }
    return new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
  }

  /**
   * Checks a raw ed25519 signature by `keyId` over `message`.
   * @throws IntegrityError with reason `revoked_key`, `unknown_key` or `bad_signature`.
   */
  verifyDetached(keyId: string, message: Uint8Array, signature: Uint8Array): void {
    if (this.revoked.has(keyId)) {
      throw refusal('revoked_key', `signed by revoked key ${keyId}`, { keyId });
    }
    const key = this.keys.get(keyId);
    if (!key) {
      throw refusal('unknown_key', `signed by unknown key ${keyId} (trusted: ${this.keyIds().join(', ')})`, {
        keyId,
      });
    }
    if (signature.length !== 64 || !verify(null, message, key, signature)) {
      throw refusal('bad_signature', `signature by key ${keyId} does not verify`, { keyId });
    }
  }
}

/**
 * Base64 raw public keys by key id.
 * @throws ConfigError naming every key that is not base64 of 32 raw bytes.
 */
export function parseKeys(keys: readonly string[], what = 'trust.keys'): Map<string, string> {
  const byId = new Map<string, string>();
  const issues: string[] = [];
  for (const [i, b64] of keys.entries()) {
    const raw = Buffer.from(b64, 'base64');
    if (raw.length !== 32) {
      issues.push(`${what}.${i}: expected base64 of a 32-byte ed25519 public key, got ${raw.length} bytes`);
      continue;
    }
    byId.set(keyIdOf(raw), raw.toString('base64'));
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return byId;
}

function keyObjects(set: TrustSet): Map<string, KeyObject> {
  const out = new Map<string, KeyObject>();
  for (const [id, b64] of set.keys) {
    if (!set.revoked.has(id)) out.set(id, publicKeyFromRaw(Buffer.from(b64, 'base64')));
  }
  return out;
}

function retiredKeyObjects(set: TrustSet): Map<string, KeyObject> {
  const out = new Map<string, KeyObject>();
  for (const [id, b64] of [...set.keys, ...(set.retired ?? [])]) {
    if (set.revoked.has(id)) out.set(id, publicKeyFromRaw(Buffer.from(b64, 'base64')));
  }
  return out;
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
