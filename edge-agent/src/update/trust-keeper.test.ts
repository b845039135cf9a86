import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { IntegrityError } from '../domain/errors.js';
import { decodeBundleJson, encodeBundleJson, testSigner } from './fakes.js';
import { IDENTITY_FILE, type TrustStore } from './trust.js';
import type { SignedTrustBundle, TrustBundleContent } from './trust-bundle.js';
import { TRUST_JOURNAL_FILE } from './trust-journal.js';
import { TRUST_FILE, TrustKeeper } from './trust-keeper.js';

type Signer = ReturnType<typeof testSigner>;
const log = pino({ level: 'silent' });

function content(sequence: number, keys: Signer[], revoked: Signer[] = []): TrustBundleContent {
  return {
    sequence,
    keys: keys.map((k) => ({ keyId: k.keyId, publicKey: k.publicKeyB64 })),
    revokedKeyIds: revoked.map((k) => k.keyId),
    issuedAtMs: 1_750_000_000_000 + sequence,
  };
}

function bundle(c: TrustBundleContent, signers: Signer[]): SignedTrustBundle {
  const payload = encodeBundleJson(c);
  return { payload, signatures: signers.map((s) => s.signBundle(payload)) };
}

/** The refusal reason `verify` throws for an artifact signed by `signer`. */
function artifactRefusal(store: TrustStore, signer: Signer): string | undefined {
  try {
    store.verify(signer.sign(new TextEncoder().encode('release')));
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(IntegrityError);
    return String((err as IntegrityError).details.reason);
  }
}

async function open(dataDir: string, configKeys: Signer[]) {
  return TrustKeeper.open({
    dataDir,
    configKeys: configKeys.map((k) => k.publicKeyB64),
    decode: decodeBundleJson,
    log,
    now: () => 1_750_000_000_000,
  });
}

describe('signed trust bundles at the edge', () => {
  it('accepts a bundle signed by a pinned key and trusts its new key at once', async () => {
    const [old, next] = [testSigner(), testSigner()];
    const keeper = await open(await mkdtemp(join(tmpdir(), 'mw-trust-')), [old]);
    expect(artifactRefusal(keeper.store, next)).toBe('unknown_key');
    expect(await keeper.apply(bundle(content(1, [old, next]), [old, next]))).toEqual({ ok: true, changed: true });
    expect(artifactRefusal(keeper.store, next)).toBeUndefined();
    expect(artifactRefusal(keeper.store, old)).toBeUndefined();
    expect(keeper.sequence()).toBe(1);
  });

  it('treats the same bundle delivered again as a no-op and ignores an older one, keeping the newer set', async () => {
    const [old, next] = [testSigner(), testSigner()];
    const keeper = await open(await mkdtemp(join(tmpdir(), 'mw-trust-')), [old]);
    const first = bundle(content(1, [old, next]), [old]);
    const second = bundle(content(2, [old, next], []), [next]);
    expect((await keeper.apply(first)).ok).toBe(true);
    expect((await keeper.apply(second)).ok).toBe(true);
    expect(await keeper.apply(second)).toEqual({ ok: true, changed: false });
    expect(await keeper.apply(first)).toEqual({ ok: true, changed: false, stale: true });
    const sameSequence = await keeper.apply(bundle(content(2, [old]), [old]));
    expect(sameSequence).toEqual({ ok: true, changed: false, stale: true });
    expect(keeper.sequence()).toBe(2);
    expect(artifactRefusal(keeper.store, next)).toBeUndefined();
    // A stale bundle must still be genuine: a forged one is refused, not ignored.
    const forged = bundle(content(1, [old]), [old]);
    forged.payload = encodeBundleJson(content(1, [old, testSigner()]));
    expect(await keeper.apply(forged)).toEqual({ ok: false, reason: expect.stringMatching(/^bad_signature:/) });
  });

  it('refuses bundles signed by unknown keys, forged signatures and unsigned bundles', async () => {
    const [pinned, stranger] = [testSigner(), testSigner()];
    const keeper = await open(await mkdtemp(join(tmpdir(), 'mw-trust-')), [pinned]);
    const byStranger = await keeper.apply(bundle(content(1, [pinned, stranger]), [stranger]));
    expect(byStranger).toEqual({ ok: false, reason: expect.stringMatching(/^unknown_key:/) });
    const claimed = bundle(content(1, [stranger]), [stranger]);
    claimed.signatures[0]!.keyId = pinned.keyId;
    expect(await keeper.apply(claimed)).toEqual({ ok: false, reason: expect.stringMatching(/^bad_signature:/) });
    const tampered = bundle(content(1, [pinned]), [pinned]);
    tampered.payload = encodeBundleJson(content(1, [pinned, stranger]));
    expect(await keeper.apply(tampered)).toEqual({ ok: false, reason: expect.stringMatching(/^bad_signature:/) });
    expect(await keeper.apply({ payload: encodeBundleJson(content(1, [pinned])), signatures: [] })).toEqual({
      ok: false,
      reason: expect.stringMatching(/^unsigned:/),
    });
    expect(keeper.sequence()).toBe(0);
    expect(artifactRefusal(keeper.store, stranger)).toBe('unknown_key');
  });

  it('never takes a bundle signature for an artifact signature', async () => {
    const pinned = testSigner();
    const keeper = await open(await mkdtemp(join(tmpdir(), 'mw-trust-')), [pinned]);
    const payload = new TextEncoder().encode('release');
    const asBundle = pinned.signBundle(payload);
    const sig = { keyId: pinned.keyId, payload: Buffer.from(payload).toString('base64') };
    expect(() =>
      keeper.store.verify({ ...sig, signature: Buffer.from(asBundle.signature).toString('base64') }),
    ).toThrow(/does not verify/);
  });

  it('lets revocation win over a config-pinned key, and refuses bundles signed by the revoked key', async () => {
    const [compromised, next] = [testSigner(), testSigner()];
    const keeper = await open(await mkdtemp(join(tmpdir(), 'mw-trust-')), [compromised, next]);
    expect((await keeper.apply(bundle(content(1, [next], [compromised]), [next]))).ok).toBe(true);
    expect(artifactRefusal(keeper.store, compromised)).toBe('revoked_key');
    expect(artifactRefusal(keeper.store, next)).toBeUndefined();
    const byRevoked = await keeper.apply(bundle(content(2, [compromised, next]), [compromised]));
    expect(byRevoked).toEqual({ ok: false, reason: expect.stringMatching(/^revoked_key:/) });
    const unrevoke = await keeper.apply(bundle(content(2, [compromised, next]), [next]));
    expect(unrevoke.ok).toBe(true);
    expect(artifactRefusal(keeper.store, compromised)).toBe('revoked_key');
  });

  it('lets an agent that only knows the old key learn its revocation from the old key itself', async () => {
    const [old, next] = [testSigner(), testSigner()];
    const keeper = await open(await mkdtemp(join(tmpdir(), 'mw-trust-')), [old]);
    expect((await keeper.apply(bundle(content(5, [next], [old]), [next, old]))).ok).toBe(true);
    expect(artifactRefusal(keeper.store, old)).toBe('revoked_key');
    expect(artifactRefusal(keeper.store, next)).toBeUndefined();
  });

  it('refuses a bundle that would leave no trusted key', async () => {
    const only = testSigner();
    const keeper = await open(await mkdtemp(join(tmpdir(), 'mw-trust-')), [only]);
    const outcome = await keeper.apply(bundle(content(1, [], [only]), [only]));
    expect(outcome).toEqual({ ok: false, reason: expect.stringMatching(/would leave no trusted key/) });
    expect(artifactRefusal(keeper.store, only)).toBeUndefined();
  });

  it('keeps the accepted set and its revocations across a restart, with the old key still pinned in config', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mw-trust-'));
    const [old, next] = [testSigner(), testSigner()];
    const first = await open(dir, [old]);
    const revoking = bundle(content(3, [next], [old]), [old, next]);
    expect((await first.apply(revoking)).ok).toBe(true);
    const persisted = JSON.parse(await readFile(join(dir, TRUST_FILE), 'utf8')) as { sequence: number };
    expect(persisted.sequence).toBe(3);

    const restarted = await open(dir, [old]);
    expect(restarted.sequence()).toBe(3);
    expect(artifactRefusal(restarted.store, old)).toBe('revoked_key');
    expect(artifactRefusal(restarted.store, next)).toBeUndefined();
    expect(await restarted.apply(revoking)).toEqual({ ok: true, changed: false });
    expect(await restarted.apply(bundle(content(2, [old, next]), [next]))).toMatchObject({ ok: true, stale: true });
    expect(artifactRefusal(restarted.store, old)).toBe('revoked_key');
  });

  it('trusts the keys learnt at enrollment besides the pinned ones', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mw-trust-'));
    const [pinned, enrolled] = [testSigner(), testSigner()];
    await mkdir(join(dir, 'identity'));
    await writeFile(join(dir, IDENTITY_FILE), JSON.stringify({ trustKeys: [enrolled.publicKeyB64] }));
    const keeper = await open(dir, [pinned]);
    expect(artifactRefusal(keeper.store, enrolled)).toBeUndefined();
    expect(artifactRefusal(keeper.store, pinned)).toBeUndefined();
  });
});

describe('trust state lost or unreadable: failing closed', () => {
  it('keeps the revocations of an unreadable trust.json and blocks installs until the bundle comes again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mw-trust-'));
    const [old, next] = [testSigner(), testSigner()];
    const first = await open(dir, [old]);
    const revoking = bundle(content(3, [next], [old]), [old, next]);
    expect((await first.apply(revoking)).ok).toBe(true);
    expect(first.blocked()).toBeUndefined();
    await writeFile(join(dir, TRUST_FILE), '{"format": 1, "seq');

    const restarted = await open(dir, [old]);
    expect(restarted.blocked()).toMatch(/^trust state unreadable/);
    expect(artifactRefusal(restarted.store, old)).toBe('revoked_key');
    expect(artifactRefusal(restarted.store, next)).toBeUndefined();
    // An older genuine bundle is stale against the journal and changes nothing.
    expect(await restarted.apply(bundle(content(2, [old, next]), [next]))).toMatchObject({ ok: true, stale: true });
    expect(restarted.blocked()).toBeDefined();
    expect(artifactRefusal(restarted.store, old)).toBe('revoked_key');
    // The bundle in effect, delivered again, restores the state.
    expect(await restarted.apply(revoking)).toEqual({ ok: true, changed: true });
    expect(restarted.blocked()).toBeUndefined();
    expect(restarted.sequence()).toBe(3);
    const healed = await open(dir, [old]);
    expect(healed.blocked()).toBeUndefined();
    expect(healed.sequence()).toBe(3);
  });

  it('fails closed when trust.json is gone although a bundle was accepted, and survives a torn journal line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mw-trust-'));
    const [old, next] = [testSigner(), testSigner()];
    const first = await open(dir, [old]);
    expect((await first.apply(bundle(content(1, [old, next], [old]), [old]))).ok).toBe(true);
    await rm(join(dir, TRUST_FILE));
    await appendFile(join(dir, TRUST_JOURNAL_FILE), 'revoked 12ab');

    const restarted = await open(dir, [old]);
    expect(restarted.blocked()).toMatch(/^trust state missing although bundle 1 was accepted/);
    expect(artifactRefusal(restarted.store, old)).toBe('revoked_key');
    expect((await restarted.apply(bundle(content(2, [next]), [next]))).ok).toBe(true);
    expect(restarted.blocked()).toBeUndefined();
    const journal = await readFile(join(dir, TRUST_JOURNAL_FILE), 'utf8');
    expect(
      journal
        .split('\n')
        .filter((l) => l.startsWith('bundle '))
        .map((l) => l.split(' ')[1]),
    ).toEqual(['1', '2']);
  });

  it('writes the journal for an agent that kept only trust.json (upgraded), so a later loss still fails closed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mw-trust-'));
    const [old, next] = [testSigner(), testSigner()];
    const first = await open(dir, [old]);
    expect((await first.apply(bundle(content(4, [next], [old]), [old]))).ok).toBe(true);
    await rm(join(dir, TRUST_JOURNAL_FILE));
    const upgraded = await open(dir, [old]);
    expect(upgraded.blocked()).toBeUndefined();
    await writeFile(join(dir, TRUST_FILE), 'not json');

    const restarted = await open(dir, [old]);
    expect(restarted.blocked()).toMatch(/^trust state unreadable/);
    expect(artifactRefusal(restarted.store, old)).toBe('revoked_key');
    expect(artifactRefusal(restarted.store, next)).toBeUndefined();
  });
});
