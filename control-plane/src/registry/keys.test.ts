import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ErrorCode, MillwrightError } from '../domain/errors.js';
import type { TrustBundleContent, TrustBundleData, VersionSignature } from './domain.js';
import { InMemorySigningKeyStore } from './fakes.js';
import { Keyring } from './keyring.js';
import { ROTATE_RETRY_WINDOW_MS, SigningKeyService } from './keys.js';
import type { Signer, SigningKeyStore } from './ports.js';
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

async function setup(over: { store?: SigningKeyStore } = {}) {
  const keyDir = mkdtempSync(join(tmpdir(), 'mw-keys-'));
  const keyring = Keyring.load({ devKeyDir: keyDir });
  const store = new InMemorySigningKeyStore();
  let clock = 1_750_000_000_000;
  const logs: { level: number; msg: string; [k: string]: unknown }[] = [];
  const service = new SigningKeyService({
    store: over.store ?? store,
    keys: keyring,
    encodeBundle: (c) => new TextEncoder().encode(JSON.stringify(c)),
    now: () => clock++,
    log: pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line)) }),
  });
  await service.init();
  const first = keyring.initial()!;
  // pump@1 runs on a1 and is aliased; pump@2 was never deployed; a2 runs a signed rollback to pump@1.
  store.versions.set('pump@1', { signature: signed(first, 'release-1'), deployed: true });
  store.versions.set('pump@2', { signature: signed(first, 'release-2'), deployed: false });
  store.agents.add('a1').add('a2');
  store.desired.set('a1', { generation: 4, model: signed(first, 'release-1'), reason: 'rollout' });
  store.desired.set('a2', { generation: 7, model: signed(first, 'rollback-to-1'), reason: 'revert' });
  const advance = (ms: number) => {
    clock += ms;
  };
  const keyFiles = () => readdirSync(keyDir).sort();
  return { keyring, store, service, first, advance, keyFiles, logs };
}

/** `store` whose transactions fail at `insertBundle`, as a lost connection would. */
function failingAtBundle(store: InMemorySigningKeyStore): SigningKeyStore {
  return {
    activeKeyId: () => store.activeKeyId(),
    adoptInitialKey: (k, at) => store.adoptInitialKey(k, at),
    latestBundle: () => store.latestBundle(),
    transaction: (fn) =>
      store.transaction((tx) =>
        fn({
          ...tx,
          insertBundle: async () => {
            throw new Error('connection lost');
          },
        }),
      ),
  };
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
    await service.settled();
    expect(published).toEqual([5]);
    await failure(service.revoke({ keyId: change.key.keyId, reason: 'r' }, caller)); // refused: active key
    await service.settled();
    expect(published).toEqual([5]);
    await service.revoke({ keyId: change.previous!.keyId, reason: 'compromised' }, caller);
    await service.settled();
    expect(published).toEqual([5, 6]);
  });

  it('replies once the change is committed, without waiting for the KV writes', async () => {
    const { store, service } = await setup();
    let release: () => void = () => {};
    let started = 0;
    service.setDesiredPublisher(() => {
      started++;
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    });
    const change = await service.rotate({ keyId: '', reason: 'r' }, caller);
    expect(change.agents).toBe(2);
    expect(store.desired.get('a1')?.generation).toBe(5);
    let settled = false;
    const done = service.settled().then(() => {
      settled = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(started).toBe(1);
    expect(settled).toBe(false);
    release();
    await done;
  });

  it('keeps the committed change when publishing fails (the repair pass writes it later), and says so', async () => {
    const { store, service, logs } = await setup();
    service.setDesiredPublisher(async () => {
      throw new Error('nats down');
    });
    const change = await service.rotate({ keyId: '', reason: 'r' }, caller);
    expect(change.agents).toBe(2);
    expect(store.desired.get('a1')?.generation).toBe(5);
    expect((await service.activeSigner()).keyId).toBe(change.key.keyId);
    await service.settled();
    expect(logs.find((l) => l.msg === 'registry.trust.publish_deferred')).toMatchObject({ agents: 2 });
  });
});

describe('rotation safety', () => {
  it('generates a key only once every check passed', async () => {
    const { store, first } = await setup();
    const dir = mkdtempSync(join(tmpdir(), 'mw-keys-'));
    const stranger = new SigningKeyService({
      store,
      keys: Keyring.load({ devKeyDir: dir }),
      encodeBundle: () => new Uint8Array(),
      now: Date.now,
      log: pino({ level: 'silent' }),
    });
    const before = readdirSync(dir);
    expect((await failure(stranger.rotate({ keyId: '', reason: 'r' }, caller))).message).toMatch(
      /not held by this replica/,
    );
    expect(readdirSync(dir)).toEqual(before);
    expect(await store.activeKeyId()).toBe(first.keyId);
  });

  it('deletes the generated key file when the change does not commit', async () => {
    const inner = new InMemorySigningKeyStore();
    const { service, keyring, keyFiles, first } = await setup({ store: failingAtBundle(inner) });
    const before = keyFiles();
    await expect(service.rotate({ keyId: '', reason: 'r' }, caller)).rejects.toThrow(/connection lost/);
    expect(keyFiles()).toEqual(before);
    expect(keyring.held().map((k) => k.keyId)).toEqual([first.keyId]);
    expect(await inner.activeKeyId()).toBe(first.keyId);
  });

  it('takes the same rotation by the same actor within a minute for a retry, and creates no second key', async () => {
    const { store, service, keyFiles, advance } = await setup();
    const change = await service.rotate({ keyId: '', reason: 'yearly rotation' }, caller);
    const files = keyFiles();
    const retry = await failure(service.rotate({ keyId: '', reason: 'yearly rotation' }, caller));
    expect(retry.code).toBe(ErrorCode.PRECONDITION);
    expect(retry.message).toMatch(
      new RegExp(
        `alice already rotated with this reason \\d+ s ago \\(signing_key/${change.key.keyId}\\): taken for a retry`,
      ),
    );
    expect(keyFiles()).toEqual(files);
    expect(await store.activeKeyId()).toBe(change.key.keyId);
    expect(store.bundles).toHaveLength(1);
    // Someone else, another reason, or later: a new rotation.
    await service.rotate({ keyId: '', reason: 'yearly rotation' }, { ...caller, actor: 'bob' });
    await service.rotate({ keyId: '', reason: 'second thoughts' }, caller);
    advance(ROTATE_RETRY_WINDOW_MS);
    await service.rotate({ keyId: '', reason: 'yearly rotation' }, caller);
    expect(store.bundles).toHaveLength(4);
    expect(keyFiles()).toHaveLength(files.length + 3);
  });

  it('refuses to generate a key without a key directory, naming the way with --key-id', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mw-keyfile-'));
    const keyFile = join(dir, 'signing-key.pem');
    writeFileSync(keyFile, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const store = new InMemorySigningKeyStore();
    const keyring = Keyring.load({ keyFile });
    const service = new SigningKeyService({
      store,
      keys: keyring,
      encodeBundle: () => new Uint8Array(),
      now: Date.now,
      log: pino({ level: 'silent' }),
    });
    await service.init();
    const err = await failure(service.rotate({ keyId: '', reason: 'r' }, caller));
    expect(err.code).toBe(ErrorCode.PRECONDITION);
    expect(err.message).toMatch(
      /signing\.keyDir, which is not set on this replica: provision .* and rotate with --key-id/,
    );
    expect(store.bundles).toEqual([]);
    expect(readdirSync(dir)).toEqual(['signing-key.pem']);
  });
});
