import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigOverlayApplier } from '../config-overlay/applier.js';
import { createRuntimeRegistry } from '../inference/registry.js';
import { testManifest, utf8 } from '../inference/testkit.js';
import {
  decodeReleaseJson,
  desiredUpdate,
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
import { TrustStore } from './trust.js';
import { type DesiredArtifact, EMPTY_RULES, type SignedRelease, type SwitchRules } from './types.js';

const signer = testSigner();
const managers: UpdateManager[] = [];

interface VersionOpts {
  sequence: number;
  weights?: number[];
  release?: Partial<SignedRelease>;
  unsigned?: boolean;
}

/** A real linear model artifact with a passing self-test, signed like the control plane does. */
function version(fetcher: FakeFetcher, v: string, opts: VersionOpts): DesiredArtifact {
  const weights = opts.weights ?? [1, 2];
  const selfTest = [{ inputs: [1, 1], expectedScore: weights[0]! + weights[1]!, tolerance: 1e-9 }];
  const manifest = testManifest('linear', 2, { model: 'pump', version: v, sequence: opts.sequence, selfTest });
  const artifact = utf8({ weights: [1, 2], intercept: 0 });
  const sha256 = createHash('sha256').update(artifact).digest('hex');
  const release = testRelease(manifest, sha256, artifact.length, opts.release);
  const url = `http://artifacts.test/pump/${v}`;
  fetcher.artifacts.set(url, artifact);
  const signature = opts.unsigned ? undefined : signer.sign(encodeReleaseJson(release));
  return { model: 'pump', version: v, url, urlExpiresAtMs: 0, sha256, sizeBytes: artifact.length, signature };
}

async function setup(dataDir?: string, withConfig = false) {
  const dir = dataDir ?? (await mkdtemp(join(tmpdir(), 'mw-update-')));
  const overlay = new ConfigOverlayApplier({
    base: { dataDir: dir, alerts: { holdOffS: 600, resolveAfterNormal: 5 } },
    log: pino({ level: 'silent' }),
  });
  await overlay.load();
  const clock = new ManualClock(Date.parse('2026-06-10T12:00:00Z'));
  const parts = {
    dir,
    clock,
    reporter: new RecordingReporter(),
    fetcher: new FakeFetcher(),
    conditions: new FakeConditions(),
    desired: new FakeDesiredSource(),
  };
  const manager = new UpdateManager({
    store: new ModelStore(dir),
    trust: TrustStore.fromBase64([signer.publicKeyB64]),
    decode: decodeReleaseJson,
    registry: createRuntimeRegistry(),
    log: pino({ level: 'silent' }),
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
    ...(withConfig ? { config: overlay } : {}),
  });
  managers.push(manager);
  await manager.start();
  return { ...parts, manager, slots: manager.slots, overlay };
}

type Env = Awaited<ReturnType<typeof setup>>;

async function installFirst(env: Env, rules: Partial<SwitchRules> = {}) {
  const v1 = version(env.fetcher, '1.0.0', { sequence: 1 });
  env.desired.push(desiredUpdate({ generation: 1, model: v1, rules: { ...EMPTY_RULES, ...rules } }));
  await vi.waitFor(() => expect(env.slots.activeVersion()).toBe('1.0.0'));
  return v1;
}

const rules = (over: Partial<SwitchRules>): SwitchRules => ({ ...EMPTY_RULES, ...over });

afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.stop()));
});

describe('update manager: installing versions', () => {
  it('takes a new version through download, verification and self-test to active, reporting each step', async () => {
    const env = await setup();
    await installFirst(env);
    expect(env.reporter.trail()).toEqual([
      'downloading 1.0.0',
      'verifying 1.0.0',
      'self_testing 1.0.0',
      'active 1.0.0',
    ]);
    expect(env.reporter.last()).toMatchObject({ desiredGeneration: 1, rolloutId: 'r1', previousVersion: '' });
    expect(env.slots.active()!.score(Float64Array.of(1, 1)).score).toBe(3);
    const pointer = JSON.parse(await readFile(join(env.dir, 'models', 'current.json'), 'utf8'));
    expect(pointer).toMatchObject({ active: { model: 'pump', version: '1.0.0' }, generation: 1 });
    expect(await readdir(join(env.dir, 'models'))).not.toContain('current.json.tmp');
    expect((await readdir(join(env.dir, 'models', 'pump', '1.0.0'))).sort()).toEqual([
      'artifact',
      'manifest.json',
      'signature.json',
    ]);
  });

  it('keeps the old model serving while it waits for the maintenance window, then swaps and keeps it as previous', async () => {
    const env = await setup();
    await installFirst(env);
    const old = env.slots.active();
    const night = { windows: [{ cron: '0 2 * * *', durationS: 3600 }], timeZone: 'Europe/Berlin' };
    env.desired.push(
      desiredUpdate({ generation: 2, model: version(env.fetcher, '2.0.0', { sequence: 2 }), rules: rules(night) }),
    );
    await vi.waitFor(() => expect(env.reporter.last()?.phase).toBe('waiting_window'));
    expect(env.reporter.last()?.reason).toMatch(/next opens 2026-06-11T00:00:00.000Z/);
    expect(env.slots.active()).toBe(old);
    await env.clock.advance(12 * 3600_000 + 60_000); // 00:01 UTC = 02:01 in Berlin
    await vi.waitFor(() => expect(env.slots.activeVersion()).toBe('2.0.0'));
    expect(env.slots.previous()).toBe(old);
    expect(env.reporter.last()).toMatchObject({ phase: 'active', version: '2.0.0', previousVersion: '1.0.0' });
  });

  it('defers the switch while the edge condition says no, and switches once it allows', async () => {
    const env = await setup();
    await installFirst(env);
    env.conditions.values.set('plc.batch_running == 0', false);
    const v2 = version(env.fetcher, '2.0.0', { sequence: 2 });
    env.desired.push(
      desiredUpdate({ generation: 2, model: v2, rules: rules({ condition: 'plc.batch_running == 0' }) }),
    );
    await vi.waitFor(() => expect(env.reporter.last()?.phase).toBe('waiting_window'));
    expect(env.reporter.last()?.reason).toMatch(/does not hold/);
    env.conditions.values.set('plc.batch_running == 0', true);
    await env.clock.advance(30_000);
    await vi.waitFor(() => expect(env.slots.activeVersion()).toBe('2.0.0'));
  });

  it('lets a newer forced generation supersede a deferred one', async () => {
    const env = await setup();
    await installFirst(env);
    const v2 = version(env.fetcher, '2.0.0', { sequence: 2 });
    env.desired.push(desiredUpdate({ generation: 2, model: v2, rules: rules({ condition: 'never' }) }));
    await vi.waitFor(() => expect(env.reporter.last()?.phase).toBe('waiting_window'));
    const v3 = version(env.fetcher, '3.0.0', { sequence: 3 });
    env.desired.push(desiredUpdate({ generation: 3, model: v3, rules: rules({ condition: 'never', force: true }) }));
    await vi.waitFor(() => expect(env.slots.activeVersion()).toBe('3.0.0'));
    expect(env.reporter.trail()).not.toContain('active 2.0.0');
    expect(env.slots.previous()?.manifest.version).toBe('1.0.0');
  });

  it('refuses an unsigned artifact without downloading it and keeps the running model', async () => {
    const env = await setup();
    await installFirst(env);
    const calls = env.fetcher.calls;
    env.desired.push(
      desiredUpdate({ generation: 2, model: version(env.fetcher, '2.0.0', { sequence: 2, unsigned: true }) }),
    );
    await vi.waitFor(() => expect(env.reporter.last()?.phase).toBe('failed'));
    expect(env.reporter.last()).toMatchObject({
      version: '2.0.0',
      reason: 'artifact is not signed',
      previousVersion: '1.0.0',
    });
    expect(env.fetcher.calls).toBe(calls);
    expect(env.slots.activeVersion()).toBe('1.0.0');
  });

  it('refuses a corrupt artifact after download and deletes the partial file', async () => {
    const env = await setup();
    await installFirst(env);
    env.fetcher.corrupt = true;
    env.desired.push(desiredUpdate({ generation: 2, model: version(env.fetcher, '2.0.0', { sequence: 2 }) }));
    await vi.waitFor(() => expect(env.reporter.last()?.phase).toBe('failed'));
    expect(env.reporter.trail().slice(-3)).toEqual(['downloading 2.0.0', 'verifying 2.0.0', 'failed 2.0.0']);
    expect(env.reporter.last()?.reason).toMatch(/sha256 .* differs from the signed/);
    expect(await readdir(join(env.dir, 'models', '.partial'))).toEqual([]);
    expect(env.slots.activeVersion()).toBe('1.0.0');
  });

  it('refuses a version whose self-test fails and never puts it into service', async () => {
    const env = await setup();
    await installFirst(env);
    // The self-test expects weights [5, 5] but the artifact has [1, 2].
    env.desired.push(
      desiredUpdate({ generation: 2, model: version(env.fetcher, '2.0.0', { sequence: 2, weights: [5, 5] }) }),
    );
    await vi.waitFor(() => expect(env.reporter.last()?.phase).toBe('failed'));
    expect(env.reporter.last()?.reason).toMatch(/self-test failed: vector 0: expected 10/);
    expect(env.slots.activeVersion()).toBe('1.0.0');
  });

  it('refuses an older sequence unless it is a signed rollback away from the running version', async () => {
    const env = await setup();
    const v1 = await installFirst(env);
    env.desired.push(desiredUpdate({ generation: 2, model: version(env.fetcher, '2.0.0', { sequence: 2 }) }));
    await vi.waitFor(() => expect(env.slots.activeVersion()).toBe('2.0.0'));
    env.desired.push(desiredUpdate({ generation: 3, model: v1 }));
    await vi.waitFor(() => expect(env.reporter.last()?.phase).toBe('failed'));
    expect(env.reporter.last()?.reason).toMatch(/refusing 1.0.0 \(sequence 1\) over 2.0.0/);
    const wrongFrom = version(env.fetcher, '1.0.0', {
      sequence: 1,
      release: { rollback: true, rollbackFrom: '1.5.0' },
    });
    env.desired.push(desiredUpdate({ generation: 4, model: wrongFrom }));
    await vi.waitFor(() => expect(env.reporter.last()).toMatchObject({ phase: 'failed', desiredGeneration: 4 }));
    const rollback = version(env.fetcher, '1.0.0', { sequence: 1, release: { rollback: true, rollbackFrom: '2.0.0' } });
    env.desired.push(desiredUpdate({ generation: 5, model: rollback }));
    await vi.waitFor(() => expect(env.slots.activeVersion()).toBe('1.0.0'));
  });

  it('keeps the current model running while the network is down and retries with back-off', async () => {
    const env = await setup();
    await installFirst(env);
    env.fetcher.failures = 3;
    env.desired.push(desiredUpdate({ generation: 2, model: version(env.fetcher, '2.0.0', { sequence: 2 }) }));
    await vi.waitFor(() => expect(env.reporter.last()?.reason).toMatch(/round 1.*retrying in 1 s/));
    expect(env.slots.activeVersion()).toBe('1.0.0');
    await env.clock.advance(1000);
    await vi.waitFor(() => expect(env.reporter.last()?.reason).toMatch(/round 2.*retrying in 2 s/));
    await env.clock.advance(2000);
    await vi.waitFor(() => expect(env.reporter.last()?.reason).toMatch(/round 3.*retrying in 4 s/));
    expect(env.slots.active()!.score(Float64Array.of(1, 1)).score).toBe(3);
    await env.clock.advance(4000);
    await vi.waitFor(() => expect(env.slots.activeVersion()).toBe('2.0.0'));
  });

  it('loads a shadow candidate beside the active model and reports it as shadowing', async () => {
    const env = await setup();
    const v1 = await installFirst(env);
    const v2 = version(env.fetcher, '2.0.0', { sequence: 2 });
    env.desired.push(desiredUpdate({ generation: 2, model: v1, shadow: v2 }));
    await vi.waitFor(() => expect(env.slots.shadow()?.manifest.version).toBe('2.0.0'));
    expect(env.slots.activeVersion()).toBe('1.0.0');
    expect(env.reporter.last()).toMatchObject({ phase: 'shadowing', version: '2.0.0', previousVersion: '1.0.0' });
    env.desired.push(desiredUpdate({ generation: 3, model: v1 }));
    await vi.waitFor(() => expect(env.slots.shadow()).toBeUndefined());
  });
});

describe('update manager: watchdog and restarts', () => {
  async function switchedToV2(env: Env, over: Partial<SwitchRules> = {}) {
    await installFirst(env);
    const v2 = version(env.fetcher, '2.0.0', { sequence: 2 });
    env.desired.push(desiredUpdate({ generation: 2, model: v2, rules: rules({ watchdogS: 60, ...over }) }));
    await vi.waitFor(() => expect(env.slots.activeVersion()).toBe('2.0.0'));
    return v2;
  }

  it.each([
    ['a NaN score', (env: Env) => env.slots.observe('2.0.0', 50, 'unknown', undefined, Number.NaN), /non-finite/],
    ['a throw', (env: Env) => env.slots.observe('2.0.0', 50, 'unknown', new Error('boom')), /model threw: boom/],
  ])('rolls back on its own after %s and remembers the bad version', async (_what, fault, reason) => {
    const env = await setup();
    await switchedToV2(env);
    fault(env);
    expect(env.slots.activeVersion()).toBe('1.0.0');
    expect(env.reporter.last()).toMatchObject({ phase: 'rolled_back', version: '2.0.0', previousVersion: '1.0.0' });
    expect(env.reporter.last()?.reason).toMatch(reason);
    await vi.waitFor(async () => {
      const p = JSON.parse(await readFile(join(env.dir, 'models', 'current.json'), 'utf8'));
      expect(p).toMatchObject({ active: { version: '1.0.0' }, rejected: [{ version: '2.0.0', generation: 2 }] });
    });
  });

  it('rolls back when latency or alert rate leave their bounds within the watchdog period', async () => {
    const env = await setup();
    await switchedToV2(env, { maxLatencyUs: 200, maxAlertRate: 0.5 });
    for (let i = 0; i < 9; i++) env.slots.observe('2.0.0', 150, 'normal', undefined, 0.1);
    expect(env.slots.activeVersion()).toBe('2.0.0');
    env.slots.observe('2.0.0', 5000, 'normal', undefined, 0.1);
    expect(env.slots.activeVersion()).toBe('1.0.0');
    expect(env.reporter.last()?.reason).toMatch(/latency p99 above 200/);

    const env2 = await setup();
    await switchedToV2(env2, { maxAlertRate: 0.5 });
    for (let i = 0; i < 10; i++) env2.slots.observe('2.0.0', 10, 'alert', undefined, 0.9);
    expect(env2.slots.activeVersion()).toBe('1.0.0');
    expect(env2.reporter.last()?.reason).toMatch(/alert rate 1.000 above bound 0.5/);
  });

  it('keeps the new version once the watchdog period passes cleanly', async () => {
    const env = await setup();
    await switchedToV2(env);
    await env.clock.advance(60_000);
    env.slots.observe('2.0.0', 50, 'unknown', new Error('late'));
    expect(env.slots.activeVersion()).toBe('2.0.0');
  });

  it('does not retry a rolled-back version when a key change re-issues its rollout, even after a restart, but another rollout may', async () => {
    const env = await setup();
    const v2 = await switchedToV2(env);
    env.slots.observe('2.0.0', 50, 'unknown', new Error('boom'));
    await vi.waitFor(async () => {
      const p = JSON.parse(await readFile(join(env.dir, 'models', 'current.json'), 'utf8'));
      expect(p.rejected).toEqual([expect.objectContaining({ version: '2.0.0', rolloutId: 'r1', generation: 2 })]);
    });
    // A signing-key rotation re-issues the desired state: generation + 1, same rollout, same model.
    const calls = env.fetcher.calls;
    env.desired.push(desiredUpdate({ generation: 3, model: v2, rules: rules({ watchdogS: 60 }) }));
    await vi.waitFor(() => expect(env.reporter.last()).toMatchObject({ phase: 'rolled_back', desiredGeneration: 3 }));
    expect(env.reporter.last()?.reason).toMatch(/boom/);
    expect(env.fetcher.calls).toBe(calls);
    expect(env.slots.activeVersion()).toBe('1.0.0');
    await env.manager.stop();

    const again = await setup(env.dir);
    again.desired.push(desiredUpdate({ generation: 4, model: v2, rules: rules({ watchdogS: 60 }) }));
    await vi.waitFor(() => expect(again.reporter.last()).toMatchObject({ phase: 'rolled_back', desiredGeneration: 4 }));
    expect(again.fetcher.calls).toBe(0);
    again.fetcher.artifacts.set(v2.url, env.fetcher.artifacts.get(v2.url)!);
    again.desired.push(desiredUpdate({ generation: 5, rolloutId: 'r2', model: v2 }));
    await vi.waitFor(() => expect(again.slots.activeVersion()).toBe('2.0.0'));
  });

  it('lets a signed rollback offer a rejected version again, but not a re-issue of the rejected rollback', async () => {
    const env = await setup();
    await switchedToV2(env);
    env.slots.observe('2.0.0', 50, 'unknown', new Error('boom'));
    expect(env.slots.activeVersion()).toBe('1.0.0');
    const rollback = version(env.fetcher, '2.0.0', { sequence: 2, release: { rollback: true, rollbackFrom: '1.0.0' } });
    env.desired.push(desiredUpdate({ generation: 3, model: rollback, rules: rules({ watchdogS: 60 }) }));
    await vi.waitFor(() => expect(env.slots.activeVersion()).toBe('2.0.0'));
    env.slots.observe('2.0.0', 50, 'unknown', new Error('boom again'));
    expect(env.slots.activeVersion()).toBe('1.0.0');
    env.desired.push(desiredUpdate({ generation: 4, model: rollback, rules: rules({ watchdogS: 60 }) }));
    await vi.waitFor(() => expect(env.reporter.last()).toMatchObject({ phase: 'rolled_back', desiredGeneration: 4 }));
    expect(env.reporter.last()?.reason).toMatch(/boom again/);
    expect(env.slots.activeVersion()).toBe('1.0.0');
  });

  it('resumes the last good model and its fallback after a restart with no network', async () => {
    const env = await setup();
    await switchedToV2(env);
    await env.manager.stop();

    const offline = await setup(env.dir);
    offline.fetcher.failures = Number.POSITIVE_INFINITY;
    expect(offline.slots.activeVersion()).toBe('2.0.0');
    expect(offline.slots.previous()?.manifest.version).toBe('1.0.0');
    expect(offline.slots.active()!.score(Float64Array.of(2, 1)).score).toBe(4);
    expect(offline.fetcher.calls).toBe(0);
    expect(offline.reporter.reports).toEqual([]);
  });

  it('falls back to the previous version when the active artifact on disk was tampered with', async () => {
    const env = await setup();
    await switchedToV2(env);
    await env.manager.stop();
    await writeFile(join(env.dir, 'models', 'pump', '2.0.0', 'artifact'), utf8({ weights: [9, 9], intercept: 0 }));

    const restarted = await setup(env.dir);
    expect(restarted.slots.activeVersion()).toBe('1.0.0');
    const p = JSON.parse(await readFile(join(env.dir, 'models', 'current.json'), 'utf8'));
    expect(p.active.version).toBe('1.0.0');
  });
});

describe('update manager: config overlay', () => {
  it('applies the desired config and reports its generation as config_generation', async () => {
    const env = await setup(undefined, true);
    const v1 = version(env.fetcher, '1.0.0', { sequence: 1 });
    env.desired.push(desiredUpdate({ generation: 4, model: v1, config: { alerts: { holdOffS: 30 } } }));
    await vi.waitFor(() => expect(env.reporter.last()).toMatchObject({ phase: 'active', configGeneration: 4 }));
    expect(env.overlay.current().alerts).toEqual({ holdOffS: 30, resolveAfterNormal: 5 });
  });

  it('takes the model of a generation whose config is refused, keeping the previous config and reporting the refusal apart', async () => {
    const env = await setup(undefined, true);
    const v1 = version(env.fetcher, '1.0.0', { sequence: 1 });
    env.desired.push(desiredUpdate({ generation: 1, model: v1, config: { alerts: { holdOffS: 30 } } }));
    await vi.waitFor(() => expect(env.slots.activeVersion()).toBe('1.0.0'));
    const v2 = version(env.fetcher, '2.0.0', { sequence: 2 });
    const bad = { alerts: { holdOffS: 30, colour: 'red' } };
    env.desired.push(desiredUpdate({ generation: 2, model: v2, config: bad }));
    await vi.waitFor(() => expect(env.slots.activeVersion()).toBe('2.0.0'));
    const refused = expect.stringMatching(/^config key alerts\.colour is not hot-reloadable/);
    expect(env.reporter.last()).toMatchObject({
      phase: 'active',
      version: '2.0.0',
      desiredGeneration: 2,
      configGeneration: 1,
      configError: refused,
    });
    const ofGen2 = env.reporter.reports.filter((r) => r.desiredGeneration === 2);
    expect(ofGen2.map((r) => r.configError)).toEqual(ofGen2.map(() => refused));
    expect(env.overlay.current().alerts.holdOffS).toBe(30);

    // With nothing to do for the model, the refused config is what the generation comes to: FAILED.
    env.desired.push(desiredUpdate({ generation: 3, model: v2, config: bad }));
    await vi.waitFor(() => expect(env.reporter.last()?.desiredGeneration).toBe(3));
    expect(env.reporter.last()).toMatchObject({ phase: 'failed', version: '2.0.0', configError: refused });
    expect(env.reporter.last()!.reason).toMatch(/^config refused: config key alerts\.colour/);

    env.desired.push(desiredUpdate({ generation: 4, model: v2, config: { alerts: { resolveAfterNormal: 2 } } }));
    await vi.waitFor(() => expect(env.reporter.last()).toMatchObject({ phase: 'active', configGeneration: 4 }));
    expect(env.reporter.last()!.configError).toBeUndefined();
    expect(env.overlay.current().alerts).toEqual({ holdOffS: 600, resolveAfterNormal: 2 });
  });

  it('keeps the applied config generation across an offline restart', async () => {
    const env = await setup(undefined, true);
    env.desired.push(desiredUpdate({ generation: 6, config: { alerts: { resolveAfterNormal: 9 } } }));
    await vi.waitFor(() => expect(env.reporter.last()).toMatchObject({ phase: 'idle', configGeneration: 6 }));
    await env.manager.stop();
    const offline = await setup(env.dir, true);
    expect(offline.overlay.generation()).toBe(6);
    expect(offline.overlay.current().alerts.resolveAfterNormal).toBe(9);
  });
});
