import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, IntegrityError } from '../domain/errors.js';
import { testManifest } from '../inference/testkit.js';
import { decodeReleaseJson, encodeReleaseJson, testRelease, testSigner } from './fakes.js';
import { loadTrustKeys, TrustStore } from './trust.js';
import type { ArtifactSignature, SignedRelease } from './types.js';
import { checkAntiRollback, checkDigest, verifySignedRelease } from './verify.js';

const manifest = (version: string, sequence: number) => testManifest('linear', 2, { model: 'pump', version, sequence });

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(IntegrityError);
    return String((err as IntegrityError).details.reason);
  }
  throw new Error('expected a refusal');
}

describe('signature verification', () => {
  const signer = testSigner();
  const trust = TrustStore.fromBase64([signer.publicKeyB64]);
  const release = testRelease(manifest('2.0.0', 2), 'ab'.repeat(32), 10);
  const want = (signature: ArtifactSignature | undefined) => ({ model: 'pump', version: '2.0.0', signature });

  it('accepts a payload signed by a pinned key and uses the signed manifest', () => {
    const got = verifySignedRelease(trust, decodeReleaseJson, want(signer.sign(encodeReleaseJson(release))));
    expect(got.manifest.sequence).toBe(2);
    expect(got.sha256).toBe(release.sha256);
  });

  it('refuses a payload tampered with after signing', () => {
    const sig = signer.sign(encodeReleaseJson(release));
    const tampered = encodeReleaseJson({ ...release, sha256: 'cd'.repeat(32) });
    const forged = { ...sig, payload: Buffer.from(tampered).toString('base64') };
    expect(reasonOf(() => verifySignedRelease(trust, decodeReleaseJson, want(forged)))).toBe('bad_signature');
  });

  it('refuses a signature by a key that is not pinned', () => {
    const stranger = testSigner().sign(encodeReleaseJson(release));
    expect(reasonOf(() => verifySignedRelease(trust, decodeReleaseJson, want(stranger)))).toBe('unknown_key');
  });

  it('refuses a signature claiming a pinned key id but made with another key', () => {
    const other = testSigner().sign(encodeReleaseJson(release));
    const claimed = { ...other, keyId: signer.keyId };
    expect(reasonOf(() => verifySignedRelease(trust, decodeReleaseJson, want(claimed)))).toBe('bad_signature');
  });

  it('refuses an unsigned artifact and an empty signature block', () => {
    expect(reasonOf(() => verifySignedRelease(trust, decodeReleaseJson, want(undefined)))).toBe('unsigned');
    const empty = { keyId: signer.keyId, signature: '', payload: '' };
    expect(reasonOf(() => verifySignedRelease(trust, decodeReleaseJson, want(empty)))).toBe('unsigned');
  });

  it('accepts both the old and the new key while a rotation is under way', () => {
    const next = testSigner();
    const rotating = TrustStore.fromBase64([signer.publicKeyB64, next.publicKeyB64]);
    for (const s of [signer, next]) {
      const got = verifySignedRelease(rotating, decodeReleaseJson, want(s.sign(encodeReleaseJson(release))));
      expect(got.manifest.version).toBe('2.0.0');
    }
    const retired = TrustStore.fromBase64([next.publicKeyB64]);
    const old = signer.sign(encodeReleaseJson(release));
    expect(reasonOf(() => verifySignedRelease(retired, decodeReleaseJson, want(old)))).toBe('unknown_key');
  });

  it('refuses a validly signed manifest of another version than the desired state names', () => {
    const sig = signer.sign(encodeReleaseJson(release));
    const replay = { model: 'pump', version: '3.0.0', signature: sig };
    expect(reasonOf(() => verifySignedRelease(trust, decodeReleaseJson, replay))).toBe('identity_mismatch');
  });

  it('rejects a pinned key that is not 32 bytes, naming it', () => {
    expect(() => TrustStore.fromBase64([signer.publicKeyB64, 'AAAA'])).toThrow(ConfigError);
    expect(() => TrustStore.fromBase64(['AAAA'])).toThrow(/trust\.keys\.0/);
  });

  it('adds the keys learnt at enrollment to the configured ones', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mw-trust-'));
    expect(await loadTrustKeys(['a'], dir)).toEqual(['a']);
    await mkdir(join(dir, 'identity'));
    await writeFile(join(dir, 'identity', 'identity.json'), JSON.stringify({ agentId: 'a1', trustKeys: ['b', 'a'] }));
    expect(await loadTrustKeys(['a'], dir)).toEqual(['a', 'b']);
  });
});

describe('anti-rollback', () => {
  const running = { model: 'pump', version: '2.0.0', sequence: 2 };
  const rel = (version: string, sequence: number, over: Partial<SignedRelease> = {}) =>
    testRelease(manifest(version, sequence), 'ab'.repeat(32), 10, over);

  it('allows a higher sequence and anything when nothing or another model runs', () => {
    expect(() => checkAntiRollback(rel('3.0.0', 3), running)).not.toThrow();
    expect(() => checkAntiRollback(rel('1.0.0', 1), undefined)).not.toThrow();
    expect(() => checkAntiRollback(rel('1.0.0', 1), { ...running, model: 'other' })).not.toThrow();
  });

  it('refuses a lower or equal sequence that is not a signed rollback', () => {
    expect(reasonOf(() => checkAntiRollback(rel('1.0.0', 1), running))).toBe('rollback_refused');
    expect(reasonOf(() => checkAntiRollback(rel('2.0.1', 2), running))).toBe('rollback_refused');
  });

  it('allows a signed rollback only away from the version it names', () => {
    expect(() => checkAntiRollback(rel('1.0.0', 1, { rollback: true, rollbackFrom: '2.0.0' }), running)).not.toThrow();
    const elsewhere = rel('1.0.0', 1, { rollback: true, rollbackFrom: '1.5.0' });
    expect(reasonOf(() => checkAntiRollback(elsewhere, running))).toBe('rollback_refused');
  });
});

describe('artifact digest', () => {
  it('checks size and sha256 against the signed values', () => {
    const bytes = Buffer.from('model bytes');
    const sha = createHash('sha256').update(bytes).digest('hex');
    const got = { sha256: sha, size: bytes.length };
    const release = testRelease(manifest('1', 1), sha, bytes.length);
    expect(() => checkDigest(release, got)).not.toThrow();
    expect(reasonOf(() => checkDigest({ ...release, sizeBytes: 3 }, got))).toBe('size_mismatch');
    expect(reasonOf(() => checkDigest({ ...release, sha256: 'ab'.repeat(32) }, got))).toBe('digest_mismatch');
  });
});
