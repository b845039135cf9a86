import { createHash } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
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
  RecordingMetrics,
  RecordingReporter,
  testRelease,
  testSigner,
} from './fakes.js';
import { UpdateManager } from './manager.js';
import { ModelStore } from './model-store.js';
import type { SignedTrustBundle } from './trust-bundle.js';
import { TRUST_FILE, TrustKeeper } from './trust-keeper.js';
import { type ArtifactSignature, type DesiredArtifact, EMPTY_RULES } from './types.js';

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
    metrics: new RecordingMetrics(),
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
  return { ...parts, manager, keeper, slots: manager.slots };
}

type Env = Awaited<ReturnType<typeof setup>>;

const signerOf = async (dir: string, v: string) =>
  (JSON.parse(await readFile(join(dir, 'models', 'pump', v, 'signature.json'), 'utf8')) as ArtifactSignature).keyId;

/** Runs `v1` signed by `by`, installed by generation 1. */
async function running(env: Env, by: Signer) {
  const v1 = version(env.fetcher, '1.0.0', 1, by);
  env.desired.push(desiredUpdate({ generation: 1, model: v1.artifact }));
  await vi.waitFor(() => expect(env.slots.activeVersion()).toBe('1.0.0'));
  return v1;
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

describe('update manager: revocation reaches the loaded models', () => {
  it('ignores a stale bundle and goes on with the generation', async () => {
    const [old, next] = [testSigner(), testSigner()];
    const env = await setup(await mkdtemp(join(tmpdir(), 'mw-trust-upd-')), [old]);
    await running(env, old);
    const newer = bundle(2, [old, next], [], [old]);
    env.desired.push(
      desiredUpdate({ generation: 2, model: version(env.fetcher, '2.0.0', 2, old).artifact, trust: newer }),
    );
    await vi.waitFor(() => expect(env.slots.activeVersion()).toBe('2.0.0'));
    // A control plane restored from an older backup sends bundle 1 with the next version.
    const v3 = version(env.fetcher, '3.0.0', 3, next).artifact;
    env.desired.push(desiredUpdate({ generation: 3, model: v3, trust: bundle(1, [old, next], [], [old]) }));
    await vi.waitFor(() => expect(env.slots.activeVersion()).toBe('3.0.0'));
    expect(env.keeper.sequence()).toBe(2);
    expect(env.reporter.reports.filter((r) => r.phase === 'failed')).toEqual([]);
    expect(env.metrics.events).toEqual(['trust_bundle accepted', 'trust_bundle stale']);
  });

  it('drops a fallback signed only by the revoked key, so the watchdog cannot go back to it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mw-trust-upd-'));
    const [old, next] = [testSigner(), testSigner()];
    const env = await setup(dir, [old]);
    await running(env, old);
    const rotate = bundle(1, [old, next], [], [old]);
    const v2 = version(env.fetcher, '2.0.0', 2, next).artifact;
    const watch = { ...EMPTY_RULES, watchdogS: 600 };
    env.desired.push(desiredUpdate({ generation: 2, model: v2, trust: rotate, rules: watch }));
    await vi.waitFor(() => expect(env.slots.previous()?.manifest.version).toBe('1.0.0'));

    env.desired.push(
      desiredUpdate({ generation: 3, model: v2, trust: bundle(2, [next], [old], [next]), rules: watch }),
    );
    await vi.waitFor(() => expect(env.slots.previous()).toBeUndefined());
    expect(env.metrics.events).toContain('revoked_dropped previous');
    await vi.waitFor(async () => {
      const p = JSON.parse(await readFile(join(dir, 'models', 'current.json'), 'utf8'));
      expect(p).toMatchObject({ active: { version: '2.0.0' } });
      expect(p.previous).toBeUndefined();
    });
    env.slots.observe('2.0.0', 50, 'unknown', new Error('boom'));
    expect(env.slots.activeVersion()).toBe('2.0.0');
    expect(env.reporter.trail()).not.toContain('rolled_back 2.0.0');
  });

  it('adopts re-signatures of the running version while the desired one differs, so it restores after the revocation', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mw-trust-upd-'));
    const [old, next] = [testSigner(), testSigner()];
    const env = await setup(dir, [old]);
    const v1 = await running(env, old);
    // The desired version waits for a switch condition; the running one differs from it.
    const v2 = version(env.fetcher, '2.0.0', 2, next).artifact;
    const waiting = { ...EMPTY_RULES, condition: 'plc.idle' };
    const resignatures = [{ model: 'pump', version: '1.0.0', signature: v1.signedBy(next).signature }];
    env.desired.push(
      desiredUpdate({
        generation: 2,
        model: v2,
        rules: waiting,
        trust: bundle(1, [old, next], [], [old]),
        resignatures,
      }),
    );
    await vi.waitFor(async () => expect(await signerOf(dir, '1.0.0')).toBe(next.keyId));
    env.desired.push(
      desiredUpdate({
        generation: 3,
        model: v2,
        rules: waiting,
        trust: bundle(2, [next], [old], [next]),
        resignatures,
      }),
    );
    await vi.waitFor(() => expect(env.keeper.sequence()).toBe(2));
    await env.manager.stop();

    const restarted = await setup(dir, [old]);
    expect(restarted.slots.activeVersion()).toBe('1.0.0');
    expect(restarted.metrics.gauges.get('active_revoked')).toBe(false);
  });

  it('keeps serving an active model signed only by a revoked key, reported as FAILED, and restores it when nothing else can run', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mw-trust-upd-'));
    const [old, next] = [testSigner(), testSigner()];
    const env = await setup(dir, [old, next]);
    const v1 = await running(env, old);
    // The control plane could not re-sign it (the old private key is gone): the desired state keeps it as it was.
    env.desired.push(desiredUpdate({ generation: 2, model: v1.artifact, trust: bundle(1, [next], [old], [next]) }));
    await vi.waitFor(() => expect(env.reporter.last()?.desiredGeneration).toBe(2));
    expect(env.reporter.last()).toMatchObject({
      phase: 'failed',
      version: '1.0.0',
      reason: expect.stringMatching(
        new RegExp(`active version 1.0.0 is signed only by revoked key ${old.keyId}: still serving it`),
      ),
    });
    expect(env.slots.activeVersion()).toBe('1.0.0');
    expect(env.metrics.gauges.get('active_revoked')).toBe(true);
    await env.manager.stop();

    const restarted = await setup(dir, [old, next]);
    expect(restarted.slots.activeVersion()).toBe('1.0.0');
    expect(restarted.metrics.gauges.get('active_revoked')).toBe(true);
    // A trusted newer version replaces it, and it is not kept as the fallback.
    restarted.desired.push(
      desiredUpdate({ generation: 3, model: version(restarted.fetcher, '2.0.0', 2, next).artifact }),
    );
    await vi.waitFor(() => expect(restarted.slots.activeVersion()).toBe('2.0.0'));
    expect(restarted.slots.previous()).toBeUndefined();
    expect(restarted.metrics.gauges.get('active_revoked')).toBe(false);
  });

  it('restores the trusted previous version instead of an active one signed only by a revoked key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mw-trust-upd-'));
    const [old, next] = [testSigner(), testSigner()];
    const env = await setup(dir, [old, next]);
    await running(env, next);
    env.desired.push(desiredUpdate({ generation: 2, model: version(env.fetcher, '2.0.0', 2, old).artifact }));
    await vi.waitFor(() => expect(env.slots.activeVersion()).toBe('2.0.0'));
    env.desired.push(desiredUpdate({ generation: 3, trust: bundle(1, [next], [old], [next]) }));
    await vi.waitFor(() => expect(env.reporter.last()).toMatchObject({ desiredGeneration: 3, phase: 'failed' }));
    expect(env.slots.activeVersion()).toBe('2.0.0');
    await env.manager.stop();

    const restarted = await setup(dir, [old, next]);
    expect(restarted.slots.activeVersion()).toBe('1.0.0');
    expect(restarted.metrics.gauges.get('active_revoked')).toBe(false);
  });

  it('takes a shadow signed only by the revoked key out of service', async () => {
    const [old, next] = [testSigner(), testSigner()];
    const env = await setup(await mkdtemp(join(tmpdir(), 'mw-trust-upd-')), [old, next]);
    const v1 = await running(env, next);
    const shadow = version(env.fetcher, '2.0.0', 2, old).artifact;
    env.desired.push(desiredUpdate({ generation: 2, model: v1.artifact, shadow }));
    await vi.waitFor(() => expect(env.slots.shadow()?.manifest.version).toBe('2.0.0'));
    env.desired.push(
      desiredUpdate({ generation: 3, model: v1.artifact, shadow, trust: bundle(1, [next], [old], [next]) }),
    );
    await vi.waitFor(() => expect(env.slots.shadow()).toBeUndefined());
    expect(env.metrics.events).toContain('revoked_dropped shadow');
    await vi.waitFor(() => expect(env.reporter.last()).toMatchObject({ phase: 'failed', version: '2.0.0' }));
    expect(env.reporter.last()?.reason).toMatch(/revoked key/);
  });

  it('refuses installs while the trust state is unreadable, keeps the running model, and resumes once the bundle comes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mw-trust-upd-'));
    const [old, next] = [testSigner(), testSigner()];
    const env = await setup(dir, [old]);
    await running(env, old);
    const revoking = bundle(1, [next], [old], [old, next]);
    const v2 = version(env.fetcher, '2.0.0', 2, next);
    env.desired.push(desiredUpdate({ generation: 2, model: v2.artifact, trust: revoking }));
    await vi.waitFor(() => expect(env.slots.activeVersion()).toBe('2.0.0'));
    await env.manager.stop();
    await writeFile(join(dir, TRUST_FILE), '{"format":1,');

    const restarted = await setup(dir, [old]);
    expect(restarted.slots.activeVersion()).toBe('2.0.0');
    const v3 = version(restarted.fetcher, '3.0.0', 3, next).artifact;
    restarted.desired.push(desiredUpdate({ generation: 3, model: v3 }));
    await vi.waitFor(() => expect(restarted.reporter.last()?.desiredGeneration).toBe(3));
    expect(restarted.reporter.last()).toMatchObject({
      phase: 'failed',
      version: '3.0.0',
      reason: expect.stringMatching(
        /^trust state unreadable .*: refusing model installs and switches until a trust bundle is accepted; 2\.0\.0 keeps serving$/,
      ),
    });
    expect(restarted.fetcher.calls).toBe(0);
    expect(restarted.metrics.gauges.get('trust_blocked')).toBe(true);
    restarted.desired.push(desiredUpdate({ generation: 4, model: v3, trust: revoking }));
    await vi.waitFor(() => expect(restarted.slots.activeVersion()).toBe('3.0.0'));
    expect(restarted.metrics.gauges.get('trust_blocked')).toBe(false);
  });
});
