import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ErrorCode, MillwrightError } from '../domain/errors.js';
import type { TrustBundleContent, TrustBundleData, VersionSignature } from './domain.js';
import { InMemorySigningKeyStore } from './fakes.js';
import { Keyring } from './keyring.js';
import { SigningKeyService } from './keys.js';
import type { Signer } from './ports.js';
import { verifyEd25519 } from './signing.js';
import { TRUST_BUNDLE_CONTEXT } from './trust-bundle.js';

const caller = { actor: 'alice', source: 'ipv4:127.0.0.1:5000' };
const decode = (b: TrustBundleData) =>
  JSON.parse(Buffer.from(b.payload, 'base64').toString('utf8')) as TrustBundleContent;

function signed(signer: Signer, payload: string): VersionSignature {
  const bytes = Buffer.from(payload);
  return {
    keyId: signer.keyId,
    signature: Buffer.from(signer.sign(bytes)).toString('base64'),
    payload: bytes.toString('base64'),
  };
}

async function setup() {
  const keyring = Keyring.load({ devKeyDir: mkdtempSync(join(tmpdir(), 'mw-keys-')) });
  const store = new InMemorySigningKeyStore();
  let clock = 1_750_000_000_000;
  const service = new SigningKeyService({
    store,
    keys: keyring,
    encodeBundle: (c) => new TextEncoder().encode(JSON.stringify(c)),
    now: () => clock++,
    log: pino({ level: 'silent' }),
  });
  await service.init();
  const first = keyring.initial()!;
  // pump@1 runs on a1 and is aliased; pump@2 was never deployed; a2 runs a signed rollback to pump@1.
  store.versions.set('pump@1', { signature: signed(first, 'release-1'), deployed: true });
  store.versions.set('pump@2', { signature: signed(first, 'release-2'), deployed: false });
  store.agents.add('a1').add('a2');
  store.desired.set('a1', { generation: 4, model: signed(first, 'release-1'), reason: 'rollout' });
  store.desired.set('a2', { generation: 7, model: signed(first, 'rollback-to-1'), reason: 'revert' });
  return { keyring, store, service, first };
}

async function failure(p: Promise<unknown>): Promise<MillwrightError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(MillwrightError);
    return err as MillwrightError;
  }
  throw new Error('expected a failure');
}

function expectSignedBy(bundle: TrustBundleData, keys: { keyId: string; publicKey: string }[]) {
  const message = Buffer.concat([TRUST_BUNDLE_CONTEXT, Buffer.from(bundle.payload, 'base64')]);
  expect(bundle.signatures.map((s) => s.keyId).sort()).toEqual(keys.map((k) => k.keyId).sort());
  for (const k of keys) {
    const sig = bundle.signatures.find((s) => s.keyId === k.keyId)!;
    expect(verifyEd25519(k.publicKey, message, Buffer.from(sig.signature, 'base64'))).toBe(true);
    expect(
      verifyEd25519(k.publicKey, Buffer.from(bundle.payload, 'base64'), Buffer.from(sig.signature, 'base64')),
    ).toBe(false);
  }
}

describe('signing-key rotation', () => {
  it('makes the configured key active on a fresh database, and leaves an active key alone', async () => {
    const { store, first } = await setup();
    expect(await store.activeKeyId()).toBe(first.keyId);
    const other = Keyring.load({ devKeyDir: mkdtempSync(join(tmpdir(), 'mw-keys-')) });
    await new SigningKeyService({
      store,
      keys: other,
      encodeBundle: () => new Uint8Array(),
      now: Date.now,
      log: pino({ level: 'silent' }),
    }).init();
    expect(await store.activeKeyId()).toBe(first.keyId);
    expect(store.keys).toHaveLength(1);
  });

  it('activates a new key, keeps the old one trusted and issues a bundle the old key signs too', async () => {
    const { store, service, first, keyring } = await setup();
    const change = await service.rotate({ keyId: '', reason: 'yearly rotation' }, caller);
    const next = keyring.get(change.key.keyId)!;
    expect(change.previous?.keyId).toBe(first.keyId);
    expect((await service.activeSigner()).keyId).toBe(next.keyId);
    const bundle = (await service.latestBundle())!;
    const content = decode(bundle);
    expect(content.sequence).toBe(1);
    expect(content.keys.map((k) => [k.keyId, k.active])).toEqual([
      [first.keyId, false],
      [next.keyId, true],
    ]);
    expect(content.revokedKeyIds).toEqual([]);
    expectSignedBy(bundle, [first, next]);
    expect(bundle.signatures[0]!.keyId).toBe(next.keyId);
    expect(change.agents).toBe(2);
    expect(store.audit.at(-1)).toMatchObject({
      actor: 'alice',
      action: 'signing_key.rotate',
      target: `signing_key/${next.keyId}`,
      reason: 'yearly rotation',
      detail: { previous: first.keyId, bundleSequence: 1, resigned: ['pump@1'], agents: 2 },
    });
  });

  it('re-signs the same bytes of deployed versions and desired states with the new key, nothing else', async () => {
    const { store, service, first } = await setup();
    const change = await service.rotate({ keyId: '', reason: 'r' }, caller);
    expect(change.resignedVersions).toEqual(['pump@1']);
    const v1 = store.versions.get('pump@1')!.signature;
    expect(v1.keyId).toBe(change.key.keyId);
    expect(v1.payload).toBe(Buffer.from('release-1').toString('base64'));
    expect(verifyEd25519(change.key.publicKey, Buffer.from('release-1'), Buffer.from(v1.signature, 'base64'))).toBe(
      true,
    );
    expect(store.versions.get('pump@2')!.signature.keyId).toBe(first.keyId);
    expect(store.desired.get('a1')).toMatchObject({ generation: 5, model: v1 });
    const a2 = store.desired.get('a2')!;
    expect(a2.generation).toBe(8);
    expect(a2.model?.keyId).toBe(change.key.keyId);
    expect(a2.model?.payload).toBe(Buffer.from('rollback-to-1').toString('base64'));
  });

  it('refuses a rotation without a reason, to an unknown or active key, or without the current key at hand', async () => {
    const { store, service, first } = await setup();
    expect((await failure(service.rotate({ keyId: '', reason: ' ' }, caller))).details.field).toBe('reason');
    const unknown = await failure(service.rotate({ keyId: 'abcdefabcdefabcd', reason: 'r' }, caller));
    expect(unknown.code).toBe(ErrorCode.PRECONDITION);
    expect(unknown.message).toMatch(/not held by this replica/);
    const same = await failure(service.rotate({ keyId: first.keyId, reason: 'r' }, caller));
    expect(same.message).toMatch(/already active/);
    const stranger = new SigningKeyService({
      store,
      keys: Keyring.load({ devKeyDir: mkdtempSync(join(tmpdir(), 'mw-keys-')) }),
      encodeBundle: () => new Uint8Array(),
      now: Date.now,
      log: pino({ level: 'silent' }),
    });
    const stranded = await failure(stranger.rotate({ keyId: '', reason: 'r' }, caller));
    expect(stranded.message).toMatch(/would never accept the new key/);
    expect(await store.activeKeyId()).toBe(first.keyId);
    expect(store.bundles).toEqual([]);
    expect(store.desired.get('a1')?.generation).toBe(4);
  });

  it('names the missing key when this replica does not hold the active one', async () => {
    const { store } = await setup();
    const other = new SigningKeyService({
      store,
      keys: Keyring.load({}),
      encodeBundle: () => new Uint8Array(),
      now: Date.now,
      log: pino({ level: 'silent' }),
    });
    expect((await failure(other.activeSigner())).message).toMatch(
      new RegExp(`active signing key ${await store.activeKeyId()} is not held`),
    );
  });
});

describe('signing-key revocation', () => {
  it('refuses to revoke the active key, an unknown key or a key twice', async () => {
    const { service, first } = await setup();
    const active = await failure(service.revoke({ keyId: first.keyId, reason: 'leaked' }, caller));
    expect(active.code).toBe(ErrorCode.PRECONDITION);
    expect(active.message).toMatch(/is the active signing key: rotate to a new key first/);
    expect((await failure(service.revoke({ keyId: 'abcdefabcdefabcd', reason: 'r' }, caller))).code).toBe(
      ErrorCode.NOT_FOUND,
    );
    await service.rotate({ keyId: '', reason: 'r' }, caller);
    await service.revoke({ keyId: first.keyId, reason: 'leaked' }, caller);
    const twice = await failure(service.revoke({ keyId: first.keyId, reason: 'again' }, caller));
    expect(twice.message).toMatch(/already revoked \(leaked\)/);
  });

  it('revokes an old key in a bundle signed by the active key and by the revoked key itself', async () => {
    const { store, service, first, keyring } = await setup();
    const rotated = await service.rotate({ keyId: '', reason: 'r' }, caller);
    const next = keyring.get(rotated.key.keyId)!;
    const change = await service.revoke({ keyId: first.keyId, reason: 'laptop stolen' }, caller);
    expect(change.key).toMatchObject({ keyId: first.keyId, revokedReason: 'laptop stolen' });
    expect(change.bundleSequence).toBe(2);
    expect(change.unusableVersions).toEqual(['pump@2']);
    const content = decode((await service.latestBundle())!);
    expect(content.keys.map((k) => k.keyId)).toEqual([next.keyId]);
    expect(content.revokedKeyIds).toEqual([first.keyId]);
    expectSignedBy((await service.latestBundle())!, [next, first]);
    expect(store.desired.get('a1')?.generation).toBe(6);
    expect(store.audit.at(-1)).toMatchObject({
      action: 'signing_key.revoke',
      target: `signing_key/${first.keyId}`,
      reason: 'laptop stolen',
    });
  });
});

describe('trust sweep', () => {
  it('does nothing before the first bundle, then gives new agents a desired state', async () => {
    const { store, service } = await setup();
    store.agents.add('new');
    expect(await service.sweep()).toBe(0);
    expect(store.desired.has('new')).toBe(false);
    await service.rotate({ keyId: '', reason: 'r' }, caller);
    store.agents.add('newer');
    expect(await service.sweep()).toBe(1);
    expect(store.desired.get('newer')).toMatchObject({ generation: 1 });
    expect(store.desired.get('a1')?.generation).toBe(5);
  });
});

describe('delivery of re-issued desired states', () => {
  it('publishes after each committed change that re-issued desired states, and only then', async () => {
    const { store, service } = await setup();
    const published: number[] = [];
    // What the publisher sees is the committed state: the re-issued generations are already stored.
    service.setDesiredPublisher(async () => {
      published.push(store.desired.get('a1')!.generation);
    });
    await service.sweep(); // before any bundle: nothing re-issued, nothing published
    expect(published).toEqual([]);
    const change = await service.rotate({ keyId: '', reason: 'r' }, caller);
    expect(published).toEqual([5]);
    await failure(service.revoke({ keyId: change.key.keyId, reason: 'r' }, caller)); // refused: active key
    expect(published).toEqual([5]);
    await service.revoke({ keyId: change.previous!.keyId, reason: 'compromised' }, caller);
    expect(published).toEqual([5, 6]);
  });

  it('keeps the committed change when publishing fails (the repair pass writes it later)', async () => {
    const { store, service } = await setup();
    service.setDesiredPublisher(async () => {
      throw new Error('nats down');
    });
    const change = await service.rotate({ keyId: '', reason: 'r' }, caller);
    expect(change.agents).toBe(2);
    expect(store.desired.get('a1')?.generation).toBe(5);
    expect((await service.activeSigner()).keyId).toBe(change.key.keyId);
  });
});
