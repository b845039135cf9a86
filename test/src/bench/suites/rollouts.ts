/**
 * Rollout convergence on real servers (issue 5, "Proof"): one real control plane, NATS, Postgres and
 * s3rver; the simulated agents live in this process (see ../rollouts/sim.ts).
 * - rollout.converge_s: 1,000 agents download + verify a 5 MB artifact, promote -> 99 % ACTIVE.
 * - rollout.rollback_s: a canary's failing ModelStats -> every canary key holds a signed rollback.
 * - rollout.control_converge_s: 100,000 agents that only report state, promote -> 99 % ACTIVE.
 * Args: --agents N (1000), --control-agents N (100000; 0 skips), --artifact-mb N (5),
 * --downloads N concurrent (32), --tick-ms N (control plane's rollouts.tickMs, default 1000), --profile.
 */
import { mkdtemp } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { call, insecure } from '@millwright/control-plane/cli/client.js';
import { TrustStore } from '@millwright/edge-agent/update/trust.js';
import { FailureAction, GateMetric, RolloutServiceClient, RolloutSpec } from '@millwright/proto';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import postgres from 'postgres';
import { HARNESS_ADMIN_TOKEN, NatsServer, PostgresServer, S3Server, spawnControlPlane } from '../../harness/index.js';
import { CpuMeter } from '../cp/cpu.js';
import { cpuProfileNodeOptions, topSelfTime } from '../cp/profile.js';
import { type BenchContext, percentile } from '../report.js';
import { MODEL, pushVersion, trustKeys } from '../rollouts/artifacts.js';
import { fleet, registerFleet } from '../rollouts/fleet.js';
import { firstAt, type Sample, sampleUntil, tickDurations, timeline } from '../rollouts/progress.js';
import { publishFailingStats, waitReverted } from '../rollouts/rollback.js';
import { SimFleet } from '../rollouts/sim.js';

interface Env {
  ctx: BenchContext;
  sql: postgres.Sql;
  js: ReturnType<typeof jetstream>;
  kv: Awaited<ReturnType<Kvm['open']>>;
  trust: TrustStore;
  rollouts: RolloutServiceClient;
  cpOutput: () => string;
  meter: () => Record<string, number>;
}

export async function run(ctx: BenchContext): Promise<void> {
  const arg = (flag: string, dflt: string) => {
    const i = ctx.args.indexOf(flag);
    return Number(i >= 0 ? (ctx.args[i + 1] ?? dflt) : dflt);
  };
  const o = {
    agents: arg('--agents', '1000'),
    controlAgents: arg('--control-agents', '100000'),
    artifactBytes: Math.round(arg('--artifact-mb', '5') * 1024 * 1024),
    downloads: arg('--downloads', '32'),
    tickMs: arg('--tick-ms', '1000'),
  };
  const profileDir = ctx.args.includes('--profile') ? await mkdtemp(join(tmpdir(), 'mw-ro-prof-')) : undefined;
  const [nats, pg, s3] = await Promise.all([
    NatsServer.start(),
    PostgresServer.start(),
    S3Server.start({ buckets: ['mw-bench'] }),
  ]);
  const dbUrl = await pg.createDatabase('bench');
  const dir = await mkdtemp(join(tmpdir(), 'mw-ro-bench-'));
  const cp = await spawnControlPlane(
    {
      MW_DATABASE_URL: dbUrl,
      MW_NATS_URL: nats.url,
      MW_S3_ENDPOINT: s3.endpoint.endpoint,
      MW_S3_BUCKET: 'mw-bench',
      MW_S3_ACCESS_KEY_ID: s3.endpoint.accessKeyId,
      MW_S3_SECRET_ACCESS_KEY: s3.endpoint.secretAccessKey,
      MW_S3_FORCE_PATH_STYLE: 'true',
      MW_SIGNING_DEV_KEY_DIR: join(dir, 'keys'),
      // The simulated agents heartbeat once, at registration: keep them online for the whole run.
      MW_HEALTH_STALE_AFTER_S: '1800',
      MW_HEALTH_OFFLINE_AFTER_S: '3600',
      MW_ROLLOUTS_TICK_MS: String(o.tickMs),
      // The controller's per-tick summary (`rollout.tick`, durationMs) is a debug line.
      MW_LOG_LEVEL: 'debug',
      ...(profileDir ? { NODE_OPTIONS: cpuProfileNodeOptions(profileDir) } : {}),
    },
    'cp-rollouts',
  );
  const nc = await connect({ servers: nats.url });
  const js = jetstream(nc);
  const sql = postgres(dbUrl, { max: 4, onnotice: () => {} });
  const rollouts = new RolloutServiceClient(cp.grpcAddr, insecure());
  const cpu = new CpuMeter({ cp: cp.proc.pid, postgres: pg.proc?.pid, nats: nats.proc.pid, s3rver: s3.proc.pid });
  const meter = () => {
    const u = process.cpuUsage();
    return { ...cpu.sample(), 'bench+agents': (u.user + u.system) / 1e6 };
  };
  try {
    for (const [v, intercept] of [
      ['1.0.0', 0],
      ['2.0.0', 0.5],
      ['3.0.0', 0.25],
    ] as const)
      await pushVersion(cp.grpcAddr, dir, v, intercept, o.artifactBytes);
    ctx.log(`pushed ${MODEL} 1.0.0, 2.0.0, 3.0.0 (${(o.artifactBytes / 1e6).toFixed(1)} MB each) through the registry`);
    const env: Env = {
      ctx,
      sql,
      js,
      kv: await new Kvm(js).open('mw_desired'),
      trust: TrustStore.fromBase64(await trustKeys(cp.grpcAddr)),
      rollouts,
      cpOutput: () => cp.proc.stdout,
      meter,
    };
    await fullFleet(env, o);
    if (o.controlAgents > 0) await controlFleet(env, o.controlAgents);
  } finally {
    rollouts.close();
    await nc.close();
    await sql.end();
    await cp.proc.stop(30_000);
    await Promise.all([nats.dispose(), pg.dispose(), s3.dispose()]);
  }
  if (profileDir)
    ctx.log(`control-plane CPU profile, self time (${profileDir}):\n${topSelfTime(profileDir, 30).join('\n')}`);
}

/** 1,000 downloading agents: converge on 2.0.0, then a canary of 3.0.0 fails its gate and is reverted. */
async function fullFleet(env: Env, o: { agents: number; downloads: number; artifactBytes: number }): Promise<void> {
  const { ctx, sql } = env;
  const agents = fleet('full', o.agents);
  await registerFleet(sql, 'full', o.agents, '1.0.0');
  const sim = new SimFleet({
    kv: env.kv,
    js: env.js,
    trust: env.trust,
    mode: 'full',
    agents,
    downloads: o.downloads,
    publishInFlight: 256,
    initial: { model: MODEL, version: '1.0.0', sequence: 0 },
    log: (m) => ctx.log(`sim: ${m}`),
  });
  await sim.start();
  try {
    const conv = await converge(env, sim, 'full', '2.0.0', o.agents, 250, 300_000);
    ctx.log(
      `converge: ${sim.counters.downloads} downloads, ${(sim.counters.downloadedBytes / 1e9).toFixed(2)} GB, mean ${(sim.counters.downloadMs / Math.max(1, sim.counters.downloads)).toFixed(0)} ms each with ${o.downloads} at once; ${sim.counters.failures} failures`,
    );
    ctx.emit({ metric: 'rollout.converge_s', value: conv / 1000, unit: 's' });
    await waitStatus(sql, await latestRollout(sql), 'succeeded', 120_000);
    ctx.emit({ metric: 'rollout.rollback_s', value: (await rollback(env, sim)) / 1000, unit: 's' });
  } finally {
    await sim.stop();
  }
}

async function controlFleet(env: Env, n: number): Promise<void> {
  const { ctx, sql } = env;
  const t = Date.now();
  await registerFleet(sql, 'ctl', n, '1.0.0');
  ctx.log(`control: ${n} agents registered in ${Date.now() - t} ms`);
  const sim = new SimFleet({
    kv: env.kv,
    js: env.js,
    trust: env.trust,
    mode: 'report',
    agents: fleet('ctl', n),
    downloads: 1,
    publishInFlight: 1024,
    log: (m) => ctx.log(`sim: ${m}`),
  });
  await sim.start();
  try {
    const ms = await converge(env, sim, 'ctl', '2.0.0', n, 500, 900_000);
    ctx.emit({ metric: 'rollout.control_converge_s', value: ms / 1000, unit: 's' });
    ctx.emit({ metric: 'rollout.control_converge_agents', value: n, unit: 'agents' });
  } finally {
    await sim.stop();
  }
}

function spec(fleetLabel: string, version: string, stages: RolloutSpec['stages']): RolloutSpec {
  return RolloutSpec.fromPartial({
    model: MODEL,
    version,
    target: { siteIds: [], labels: { fleet: fleetLabel }, excludeAgentIds: [] },
    stages,
    failureAction: FailureAction.FAILURE_ACTION_ROLLBACK,
    maxParallelPerSite: 0, // no per-site cap: every agent of the stage at once
    force: true,
    reason: 'bench',
  });
}

async function startRollout(env: Env, s: RolloutSpec): Promise<string> {
  const r = await call(
    env.rollouts,
    env.rollouts.start,
    { spec: s },
    { token: HARNESS_ADMIN_TOKEN, actor: 'bench', timeoutMs: 120_000 },
  );
  return r.id;
}

/**
 * Promote (Start of one 100 % stage, no bake, gate active_fraction >= 0.99) -> 99 % of the online
 * target reported ACTIVE as the control plane stored it (rollout_members). Returns ms.
 */
async function converge(
  env: Env,
  sim: SimFleet,
  label: string,
  version: string,
  n: number,
  everyMs: number,
  timeoutMs: number,
): Promise<number> {
  const { ctx, sql } = env;
  const want = Math.ceil(0.99 * n);
  sim.takeCounters();
  const cpu0 = env.meter();
  const t0 = Date.now();
  const id = await startRollout(
    env,
    spec(label, version, [
      {
        name: 'full',
        percent: 100,
        bakeS: 0,
        gates: [{ metric: GateMetric.GATE_METRIC_ACTIVE_FRACTION, threshold: 0.99, minSamples: 1 }],
        shadow: false,
        timeoutS: 3600,
      },
    ]),
  );
  const startMs = Date.now() - t0;
  const samples = await sampleUntil({
    sql,
    rolloutId: id,
    sim,
    t0,
    everyMs,
    timeoutMs,
    done: (s) => s.membersActive >= want,
  });
  const done = samples[samples.length - 1]!.t;
  const cpu1 = env.meter();
  const c = sim.counters;
  const at = (p: (s: Sample) => boolean) => `${(firstAt(samples, p) / 1000).toFixed(1)} s`;
  const ticks = tickDurations(env.cpOutput(), t0, t0 + done);
  ctx.log(`${label}: ${n} agents, rollout ${id}; Start RPC returned after ${startMs} ms (plan + members inserted)`);
  ctx.log(`${label}: timeline (from promote):\n${timeline(samples, n > 10_000 ? 2000 : 500)}`);
  ctx.log(
    [
      `${label}: where the time goes:`,
      `  all desired rows in Postgres at ${at((s) => s.desired >= n)}; all KV writes recorded at ${at((s) => s.kvMarked >= n)}`,
      `  watch saw first desired value at ${((c.firstDesiredMs - t0) / 1000).toFixed(1)} s, last at ${((c.lastDesiredMs - t0) / 1000).toFixed(1)} s: ${rate(c.desiredSeen, c.lastDesiredMs - c.firstDesiredMs)} KV puts/s seen`,
      `  ${c.activeReports} ACTIVE reports acked by JetStream, last at ${((c.lastActiveMs - t0) / 1000).toFixed(1)} s (${c.reports} reports, ${c.publishErrors} publish retries)`,
      `  control plane stored 99 % active at ${(done / 1000).toFixed(1)} s; ingest after the last report: ${((t0 + done - c.lastActiveMs) / 1000).toFixed(1)} s`,
      `  controller ticks in the window: ${ticks.length}, duration p50 ${percentile(ticks, 50).toFixed(0)} ms, max ${Math.max(0, ...ticks).toFixed(0)} ms`,
      `  CPU ${CpuMeter.describe(cpu0, cpu1, n, 'agent')}; load ${loadavg()[0]?.toFixed(1)}`,
    ].join('\n'),
  );
  return done;
}

async function rollback(env: Env, sim: SimFleet): Promise<number> {
  const { ctx, sql } = env;
  sim.takeCounters();
  const id = await startRollout(
    env,
    spec('full', '3.0.0', [
      {
        name: 'canary',
        percent: 5,
        bakeS: 3600,
        gates: [{ metric: GateMetric.GATE_METRIC_ERROR_RATE, threshold: 0.01, minSamples: 100 }],
        shadow: false,
        timeoutS: 7200,
      },
      { name: 'full', percent: 100, bakeS: 0, gates: [], shadow: false, timeoutS: 3600 },
    ]),
  );
  const canary = await sql<{ agent_id: string; site_id: string }[]>`select m.agent_id, a.site_id
    from rollout_members m join agents a on a.id = m.agent_id where m.rollout_id = ${id} and m.stage = 0`;
  await waitCanaryActive(sql, id, canary.length, 120_000);
  ctx.log(`rollback: canary of ${canary.length} agents active on 3.0.0; publishing failing ModelStats`);
  const t0 = Date.now();
  await publishFailingStats(env.js, canary, MODEL, '3.0.0', t0);
  const evidenceMs = Date.now() - t0;
  const statusAt = waitStatus(sql, id, 'rolled_back', 120_000).then(() => Date.now() - t0);
  const ms = await waitReverted(sim, canary, '2.0.0', t0, 120_000);
  ctx.log(
    `rollback: evidence published in ${evidenceMs} ms; rollout rolled_back after ${((await statusAt) / 1000).toFixed(1)} s; every canary key held 2.0.0 with a signed rollback after ${(ms / 1000).toFixed(1)} s`,
  );
  const [dec] = await sql<{ reason: string }[]>`select reason from rollout_decisions where rollout_id = ${id}
    and kind = 'gate_failed' order by at limit 1`;
  ctx.log(`rollback: decision: ${dec?.reason ?? '(none)'}`);
  return ms;
}

async function waitCanaryActive(sql: postgres.Sql, id: string, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [r] = await sql<{ n: number }[]>`select count(*)::int as n from rollout_members
      where rollout_id = ${id} and stage = 0 and state = 'active'`;
    if ((r?.n ?? 0) >= n) return;
    if (Date.now() > deadline) throw new Error(`canary not active after ${timeoutMs} ms (${r?.n}/${n})`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

async function latestRollout(sql: postgres.Sql): Promise<string> {
  const [r] = await sql<{ id: string }[]>`select id from rollouts order by created_at desc limit 1`;
  return r!.id;
}

async function waitStatus(sql: postgres.Sql, id: string, want: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [r] = await sql<
      { status: string; status_reason: string }[]
    >`select status, status_reason from rollouts where id = ${id}`;
    if (r?.status === want) return;
    if (Date.now() > deadline) throw new Error(`rollout ${id} is ${r?.status} (${r?.status_reason}), not ${want}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

function rate(n: number, ms: number): string {
  return ms > 0 ? (n / (ms / 1000)).toFixed(0) : 'n/a';
}
