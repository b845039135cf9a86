import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ControlPlaneProcess,
  type ManagedProcess,
  mwctl,
  NatsServer,
  PostgresServer,
  S3Server,
  spawnAgent,
  spawnControlPlane,
  waitFor,
} from '../harness/index.js';

interface RolloutJson {
  id: string;
  status: string;
  statusReason?: string;
  currentStage?: number;
  previousVersion?: string;
  stages: {
    name: string;
    cohortSize?: number;
    active?: number;
    waitingWindow?: number;
    gates?: { metric: string; outcome: string }[];
  }[];
}
interface StatusJson {
  rollout: RolloutJson;
  decisions: {
    kind: string;
    stage?: number;
    reason?: string;
    gates?: { metric: string; outcome: string; value?: number }[];
  }[];
}
interface AgentJson {
  id: string;
  runningModelVersion?: string;
  health: string;
  modelState?: { phase?: number; version?: string };
}

/** Agents: plant-a has two lines (a1 on L1, a2 and a3 on L2), plant-b a single line (b1). */
const AGENTS = [
  { id: 'a1', site: 'plant-a', line: 'L1' },
  { id: 'a2', site: 'plant-a', line: 'L2' },
  { id: 'a3', site: 'plant-a', line: 'L2' },
  { id: 'b1', site: 'plant-b', line: 'L1' },
] as const;
const SLOW = 120_000;

describe('versioned model rollouts with real agents, NATS, Postgres and S3', () => {
  let nats: NatsServer;
  let pg: PostgresServer;
  let s3: S3Server;
  const cps: ControlPlaneProcess[] = [];
  const agents = new Map<string, { proc: ManagedProcess; env: Record<string, string> }>();
  let dir: string;
  let server = '';
  let cpEnv: Record<string, string> = {};

  const ctl = async (...args: string[]) => {
    const res = await mwctl([...args, '--server', server], { MW_ACTOR: 'e2e-operator' });
    return res;
  };
  const ok = async (...args: string[]) => {
    const res = await ctl(...args);
    if (res.code !== 0) throw new Error(`mwctl ${args.join(' ')} exited ${res.code}: ${res.stderr}`);
    return res.stdout;
  };
  const status = async (id: string) => {
    const s = JSON.parse(await ok('rollouts', 'status', id, '--json')) as StatusJson;
    s.rollout.status = s.rollout.status.replace('ROLLOUT_STATUS_', '').toLowerCase();
    return s;
  };
  const agent = async (id: string) => JSON.parse(await ok('fleet', 'get', id, '--json')) as AgentJson;
  const untilStatus = (id: string, want: string, ms = SLOW) =>
    waitFor(
      `rollout ${id} ${want}`,
      async () => {
        const s = await status(id);
        if (
          ['rolled_back', 'aborted', 'failed', 'paused', 'succeeded'].includes(s.rollout.status) &&
          s.rollout.status !== want
        ) {
          throw new Error(`rollout ${id} ended ${s.rollout.status}: ${s.rollout.statusReason}`);
        }
        return s.rollout.status === want ? s : undefined;
      },
      ms,
    );
  const untilRunning = (id: string, version: string, ms = SLOW) =>
    waitFor(
      `${id} running ${version}`,
      async () => ((await agent(id)).runningModelVersion === version ? true : undefined),
      ms,
    );

  async function push(version: string, intercept: number): Promise<void> {
    const artifact = join(dir, `model-${version}.json`);
    const manifest = join(dir, `manifest-${version}.json`);
    await writeFile(artifact, JSON.stringify({ weights: [1], intercept }));
    await writeFile(
      manifest,
      JSON.stringify({
        runtime: 'MODEL_RUNTIME_LINEAR',
        inputs: [{ name: 'vib_h.rms', unit: 'g' }],
        output: { meaning: 'wear index', alertThreshold: 1000 },
        selfTest: [
          { inputs: [0], expectedScore: intercept, tolerance: 1e-9 },
          { inputs: [1], expectedScore: intercept + 1, tolerance: 1e-9 },
        ],
      }),
    );
    await ok('models', 'push', 'press', version, '--artifact', artifact, '--manifest', manifest, '--create');
  }

  async function startAgent(a: (typeof AGENTS)[number], trustKey: string, dataDir?: string): Promise<void> {
    const env = agents.get(a.id)?.env ?? {
      MW_AGENT_ID: a.id,
      MW_SITE_ID: a.site,
      MW_LINE_ID: a.line,
      MW_LABELS: JSON.stringify({ hardware: 'x86', machine_type: 'press' }),
      MW_NATS_URL: nats.url,
      MW_DATA_DIR: dataDir ?? (await mkdtemp(join(tmpdir(), `mw-rollout-${a.id}-`))),
      MW_HEARTBEAT_INTERVAL_S: '0.5',
      MW_REPORTS_INTERVAL_S: '1',
      MW_TRUST_KEYS: JSON.stringify([trustKey]),
      MW_UPDATE_SWITCH_CHECK_S: '1',
      MW_UPDATE_RETRY_BACKOFF_MIN_MS: '200',
      MW_UPDATE_RETRY_BACKOFF_MAX_MS: '2000',
      MW_FEATURES_VIBRATION_WINDOW_SIZE: '256',
      MW_SOURCES: JSON.stringify([
        {
          type: 'simulator',
          id: 'sim',
          seed: a.id.charCodeAt(0) + a.id.charCodeAt(1),
          assets: [{ name: 'pump1', vibrationRateHz: 2560, bearingFault: null, spikes: null }],
        },
      ]),
    };
    agents.set(a.id, { proc: await spawnAgent(env, a.id), env });
  }

  beforeAll(async () => {
    [nats, pg, s3] = await Promise.all([NatsServer.start(), PostgresServer.start(), S3Server.start()]);
    dir = await mkdtemp(join(tmpdir(), 'mw-rollouts-e2e-'));
    const e = s3.endpoint;
    const env = {
      MW_DATABASE_URL: await pg.createDatabase(),
      MW_NATS_URL: nats.url,
      MW_S3_ENDPOINT: e.endpoint,
      MW_S3_REGION: e.region,
      MW_S3_BUCKET: 'mw-rollouts',
      MW_S3_ACCESS_KEY_ID: e.accessKeyId,
      MW_S3_SECRET_ACCESS_KEY: e.secretAccessKey,
      MW_S3_FORCE_PATH_STYLE: 'true',
      MW_SIGNING_DEV_KEY_DIR: join(dir, 'keys'),
      MW_HEALTH_STALE_AFTER_S: '2',
      MW_HEALTH_OFFLINE_AFTER_S: '4',
      MW_LEADER_RETRY_S: '1',
      MW_ROLLOUTS_TICK_MS: '500',
      MW_INGEST_HEARTBEAT_FLUSH_MS: '100',
    };
    cpEnv = env;
    cps.push(await spawnControlPlane(env, 'cp-1'));
    server = cps[0]!.grpcAddr;
    await push('1.0.0', 0);
    const keys = JSON.parse(await ok('models', 'keys', '--json')) as { publicKey: string }[];
    for (const a of AGENTS) await startAgent(a, keys[0]!.publicKey);
    await waitFor('four agents online', async () => {
      const list = JSON.parse(await ok('fleet', 'ls', '--health', 'online', '--json')) as AgentJson[];
      return list.length === 4 ? true : undefined;
    });
    await push('2.0.0', 0.5);
    await push('3.0.0', 2000); // every window scores above the alert threshold: the anomaly rate explodes
    await push('4.0.0', 0.25);
    await push('5.0.0', 0.125);
    await push('6.0.0', 0.0625);
  }, 300_000);

  afterAll(async () => {
    await Promise.all([...agents.values()].map((a) => a.proc.stop()));
    await Promise.all(cps.map((c) => c.proc.stop()));
    await Promise.all([nats?.dispose(), pg?.dispose(), s3?.dispose()]);
  }, 300_000);

  it('plans a stratified canary without touching anything, then deploys the first version everywhere', async () => {
    const plan = JSON.parse(
      await ok('rollouts', 'plan', '--model', 'press', '--version', '1.0.0', '--stages', '25:1,100:0', '--json'),
    ) as {
      stages: { agentIds: string[]; downloadBytes: number }[];
      warnings: string[];
      targetSize: number;
    };
    expect(plan.targetSize).toBe(4);
    expect(plan.stages[0]!.agentIds).toHaveLength(1);
    expect(plan.stages[0]!.agentIds[0]).toMatch(/^a/); // plant-b's only line never goes first
    expect(plan.warnings.join('\n')).toMatch(/plant-b.*single line/);
    expect(Number(plan.stages[1]!.downloadBytes)).toBeGreaterThan(0);
    const start = JSON.parse(
      await ok(
        'rollouts',
        'start',
        '--model',
        'press',
        '--version',
        '1.0.0',
        '--stages',
        '100:0',
        '--gate',
        'active_fraction>=1:4',
        '--json',
      ),
    ) as RolloutJson;
    await untilStatus(start.id, 'succeeded');
    for (const a of AGENTS) await untilRunning(a.id, '1.0.0');
  }, 300_000);

  it('runs a canary that passes every gate and reaches 100 %, moving the production alias', async () => {
    const r = JSON.parse(
      await ok(
        'rollouts',
        'start',
        '--model',
        'press',
        '--version',
        '2.0.0',
        '--stages',
        '25:3,100:2',
        '--gate',
        'anomaly_rate_delta<=0.05:30',
        '--gate',
        'error_rate<=0.01:30',
        '--gate',
        '0@self_test_pass_rate>=1:1',
        '--gate',
        'active_fraction>=1:1',
        '--reason',
        'better wear index',
        '--json',
      ),
    ) as RolloutJson;
    expect(r.previousVersion).toBe('1.0.0');
    const conflict = await ctl('rollouts', 'start', '--model', 'press', '--version', '2.0.0');
    expect(conflict.code).toBe(7);
    expect(conflict.stderr).toMatch(/FAILED_PRECONDITION/);
    const done = await untilStatus(r.id, 'succeeded', 180_000);
    const kinds = done.decisions.map((d) => d.kind);
    expect(kinds).toEqual(expect.arrayContaining(['started', 'stage_advanced', 'succeeded']));
    const advanced = done.decisions.find((d) => d.kind === 'stage_advanced')!;
    expect(advanced.gates?.map((g) => g.outcome)).toEqual(['pass', 'pass', 'pass', 'pass']);
    for (const a of AGENTS) await untilRunning(a.id, '2.0.0');
    const model = JSON.parse(await ok('models', 'get', 'press', 'production', '--json')) as { version: string };
    expect(model.version).toBe('2.0.0');
    expect(await ok('rollouts', 'status', r.id)).toMatch(/succeeded/);
  }, 300_000);

  it('catches a version whose anomaly rate explodes at canary and rolls the canary back, the rest untouched', async () => {
    const r = JSON.parse(
      await ok(
        'rollouts',
        'start',
        '--model',
        'press',
        '--version',
        '3.0.0',
        '--stages',
        '25:60,100:0',
        '--gate',
        'anomaly_rate_delta<=0.05:20',
        '--json',
      ),
    ) as RolloutJson;
    const s = await untilStatus(r.id, 'rolled_back', 180_000);
    const failed = s.decisions.find((d) => d.kind === 'gate_failed')!;
    expect(failed.stage ?? 0).toBe(0);
    expect(failed.gates?.[0]).toMatchObject({ metric: 'GATE_METRIC_ANOMALY_RATE_DELTA', outcome: 'fail' });
    expect(s.rollout.stages[1]!.active ?? 0).toBe(0);
    for (const a of AGENTS) await untilRunning(a.id, '2.0.0');
    const events = await waitFor('the canary reverted', async () => {
      const again = await status(r.id);
      return (again.rollout.stages[0]!.active ?? 0) === 0 ? again : undefined;
    });
    expect(events.rollout.status).toBe('rolled_back');
  }, 300_000);

  it('converges an agent that was offline during the rollout once it reconnects', async () => {
    const a3 = agents.get('a3')!;
    await a3.proc.kill();
    await waitFor('a3 offline', async () => ((await agent('a3')).health === 'offline' ? true : undefined), 60_000);
    const r = JSON.parse(
      await ok(
        'rollouts',
        'start',
        '--model',
        'press',
        '--version',
        '4.0.0',
        '--stages',
        '50:1,100:1',
        '--gate',
        'active_fraction>=1:1',
        '--json',
      ),
    ) as RolloutJson;
    await untilStatus(r.id, 'succeeded', 180_000);
    expect((await agent('a3')).runningModelVersion).toBe('2.0.0');
    await startAgent(AGENTS[2], '');
    await untilRunning('a3', '4.0.0');
  }, 300_000);

  it('completes a rollout on the other replica after the leader is killed mid-rollout', async () => {
    cps.push(await spawnControlPlane(cpEnv, 'cp-2'));
    const r = JSON.parse(
      await ok(
        'rollouts',
        'start',
        '--model',
        'press',
        '--version',
        '5.0.0',
        '--stages',
        '25:4,100:1',
        '--gate',
        'active_fraction>=1:1',
        '--json',
      ),
    ) as RolloutJson;
    await waitFor(
      'canary active',
      async () => (((await status(r.id)).rollout.stages[0]!.active ?? 0) >= 1 ? true : undefined),
      SLOW,
    );
    const leader = await leaderIndex();
    await cps[leader]!.proc.kill();
    server = cps[1 - leader]!.grpcAddr;
    await untilStatus(r.id, 'succeeded', 180_000);
    for (const a of AGENTS) await untilRunning(a.id, '5.0.0');
  }, 300_000);

  it("respects a site's maintenance window: the agent defers its switch and abort still works", async () => {
    await ok('sites', 'update', 'plant-b', '--window', '0 0 1 1 * for 1m');
    const r = JSON.parse(
      await ok(
        'rollouts',
        'start',
        '--model',
        'press',
        '--version',
        '6.0.0',
        '--site',
        'plant-b',
        '--stages',
        '100:0',
        '--gate',
        'active_fraction>=1:1',
        '--json',
      ),
    ) as RolloutJson;
    await waitFor(
      'b1 waiting for its window',
      async () => (((await status(r.id)).rollout.stages[0]!.waitingWindow ?? 0) === 1 ? true : undefined),
      SLOW,
    );
    expect((await agent('b1')).runningModelVersion).toBe('5.0.0');
    // An agent waiting for its window is progress, not failure: the rollout waits with it.
    expect((await status(r.id)).rollout.status).toBe('running');
    expect((await agent('b1')).modelState?.phase).toBe(5); // MODEL_STATE_PHASE_WAITING_WINDOW
    const aborted = JSON.parse(
      await ok('rollouts', 'abort', r.id, '--reason', 'window too far away', '--json'),
    ) as RolloutJson;
    expect(aborted.status).toMatch(/ABORTED/);
  }, 300_000);

  async function leaderIndex(): Promise<number> {
    for (const [i, cp] of cps.entries()) {
      const text = await (await fetch(`${cp.httpUrl}/metrics`)).text();
      if (/mw_leader\{lock="rollout_controller"\} 1/.test(text)) return i;
    }
    throw new Error('no rollout controller leader');
  }
});
