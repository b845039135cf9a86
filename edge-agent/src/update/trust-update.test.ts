import { createHash } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRuntimeRegistry } from '../inference/registry.js';
import { testManifest, utf8 } from '../inference/testkit.js';
import {
  decodeBundleJson,
  decodeReleaseJson,
  desiredUpdate,
  encodeBundleJson,
  encodeReleaseJson,
  FakeConditions,
  FakeDesiredSource,
  FakeFetcher,
  ManualClock,
  RecordingReporter,
  testRelease,
  testSigner,
} from './fakes.js';
import { UpdateManager } from './manager.js';
import { ModelStore } from './model-store.js';
import type { SignedTrustBundle } from './trust-bundle.js';
import { TrustKeeper } from './trust-keeper.js';
import type { ArtifactSignature, DesiredArtifact } from './types.js';

type Signer = ReturnType<typeof testSigner>;
const managers: UpdateManager[] = [];

afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.stop()));
});

/** A real linear model artifact whose signed release `sign` signs. */
function version(fetcher: FakeFetcher, v: string, sequence: number, by: Signer) {
  const selfTest = [{ inputs: [1, 1], expectedScore: 3, tolerance: 1e-9 }];
  const manifest = testManifest('linear', 2, { model: 'pump', version: v, sequence, selfTest });
  const artifact = utf8({ weights: [1, 2], intercept: 0 });
  const sha256 = createHash('sha256').update(artifact).digest('hex');
  const payload = encodeReleaseJson(testRelease(manifest, sha256, artifact.length));
  const url = `http://artifacts.test/pump/${v}`;
  fetcher.artifacts.set(url, artifact);
  const artifactOf = (signature: ArtifactSignature): DesiredArtifact => ({
    model: 'pump',
    version: v,
    url,
    urlExpiresAtMs: 0,
    sha256,
    sizeBytes: artifact.length,
    signature,
  });
  return { signedBy: (s: Signer) => artifactOf(s.sign(payload)), artifact: artifactOf(by.sign(payload)) };
}

function bundle(sequence: number, keys: Signer[], revoked: Signer[], signers: Signer[]): SignedTrustBundle {
  const payload = encodeBundleJson({
    sequence,
    keys: keys.map((k) => ({ keyId: k.keyId, publicKey: k.publicKeyB64 })),
    revokedKeyIds: revoked.map((k) => k.keyId),
    issuedAtMs: 0,
  });
  return { payload, signatures: signers.map((s) => s.signBundle(payload)) };
}

async function setup(dir: string, pinned: Signer[]) {
  const log = pino({ level: 'silent' });
  const clock = new ManualClock(Date.parse('2026-06-10T12:00:00Z'));
  const keeper = await TrustKeeper.open({
    dataDir: dir,
    configKeys: pinned.map((k) => k.publicKeyB64),
    decode: decodeBundleJson,
    log,
    now: clock.now,
  });
  const parts = {
    reporter: new RecordingReporter(),
    fetcher: new FakeFetcher(),
    desired: new FakeDesiredSource(),
  };
  const manager = new UpdateManager({
    store: new ModelStore(dir),
    trust: keeper.store,
    trustUpdates: keeper,
    decode: decodeReleaseJson,
    registry: createRuntimeRegistry(),
    log,
    clock,
    conditions: new FakeConditions(),
    options: {
      retryBackoffMinMs: 1000,
      retryBackoffMaxMs: 8000,
      switchCheckMs: 30_000,
      watchdogDefaultS: 300,
      watchdogMinSamples: 10,
      maxArtifactBytes: 1 << 20,
    },
    random: () => 1,
    ...parts,
  });
  managers.push(manager);
  await manager.start();
  return { ...parts, manager, keeper };
}

describe('update manager: trust bundles in the desired state', () => {
  it('installs a version signed by a key the same desired state introduces', async () => {
    const [old, next] = [testSigner(), testSigner()];
    const env = await setup(await mkdtemp(join(tmpdir(), 'mw-trust-upd-')), [old]);
    const v2 = version(env.fetcher, '2.0.0', 2, next).artifact;
    env.desired.push(desiredUpdate({ generation: 1, model: v2, trust: bundle(1, [old, next], [], [old]) }));
    await vi.waitFor(() => expect(env.manager.slots.activeVersion()).toBe('2.0.0'));
    expect(env.keeper.sequence()).toBe(1);
  });

  it('fails the generation on a refused bundle and keeps the running model and trust set', async () => {
    const [pinned, stranger] = [testSigner(), testSigner()];
    const env = await setup(await mkdtemp(join(tmpdir(), 'mw-trust-upd-')), [pinned]);
    env.desired.push(desiredUpdate({ generation: 1, model: version(env.fetcher, '1.0.0', 1, pinned).artifact }));
    await vi.waitFor(() => expect(env.manager.slots.activeVersion()).toBe('1.0.0'));
    const v2 = version(env.fetcher, '2.0.0', 2, stranger).artifact;
    const forged = bundle(1, [pinned, stranger], [], [stranger]);
    env.desired.push(desiredUpdate({ generation: 2, model: v2, trust: forged }));
    await vi.waitFor(() => expect(env.reporter.last()?.desiredGeneration).toBe(2));
    expect(env.reporter.last()).toMatchObject({
      phase: 'failed',
      version: '2.0.0',
      reason: expect.stringMatching(/^trust bundle refused: unknown_key: /),
    });
    expect(env.manager.slots.activeVersion()).toBe('1.0.0');
    expect(env.keeper.sequence()).toBe(0);
    expect(env.fetcher.calls).toBe(1);
  });

  it('adopts the re-signed running version, refuses the revoked key and restores after a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mw-trust-upd-'));
    const [old, next] = [testSigner(), testSigner()];
    const env = await setup(dir, [old]);
    const v1 = version(env.fetcher, '1.0.0', 1, old);
    env.desired.push(desiredUpdate({ generation: 1, model: v1.artifact }));
    await vi.waitFor(() => expect(env.manager.slots.activeVersion()).toBe('1.0.0'));

    // Rotation: the bundle signed by the old key brings the new one; v1 arrives re-signed by it.
    env.desired.push(
      desiredUpdate({ generation: 2, model: v1.signedBy(next), trust: bundle(1, [old, next], [], [old, next]) }),
    );
    const signaturePath = join(dir, 'models', 'pump', '1.0.0', 'signature.json');
    await vi.waitFor(async () =>
      expect((JSON.parse(await readFile(signaturePath, 'utf8')) as ArtifactSignature).keyId).toBe(next.keyId),
    );
    // Revocation of the old key; then an artifact signed with it is refused.
    const v3 = version(env.fetcher, '3.0.0', 3, old).artifact;
    env.desired.push(desiredUpdate({ generation: 3, model: v3, trust: bundle(2, [next], [old], [next, old]) }));
    await vi.waitFor(() => expect(env.reporter.last()?.desiredGeneration).toBe(3));
    expect(env.reporter.last()).toMatchObject({
      phase: 'failed',
      version: '3.0.0',
      reason: expect.stringMatching(/revoked key/),
    });

    await env.manager.stop();
    const restarted = await setup(dir, [old]);
    expect(restarted.manager.slots.activeVersion()).toBe('1.0.0');
    expect(restarted.keeper.sequence()).toBe(2);
  });
});
