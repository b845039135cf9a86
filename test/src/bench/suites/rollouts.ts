/**
 * Rollout convergence on real servers (issue 5, "Proof"): one real control plane, NATS, Postgres and
 * s3rver; the simulated agents live in this process (see ../rollouts/sim.ts).
 * - rollout.converge_s: 1,000 agents take a 5 MB artifact through the agent's real update path
 *   (download, verify, install, load, self-test, switch), promote -> 99 % ACTIVE, against
 * - rollout.download_baseline_s: the raw limit, measured right before and right after in the same
 *   run: as many bare GETs of the same object from the same s3rver, each through sha256.
 * - rollout.converge.{at99.<step>_s, phase.<phase>_ms_p50, cpu_ms_per_agent.<process>}: where the time goes.
 * - rollout.rollback_s: a canary's failing ModelStats -> every canary key holds a signed rollback.
 * - rollout.control_converge_s: 100,000 agents that only report state, promote -> 99 % ACTIVE.
 * Args: --agents N (1000), --control-agents N (100000; 0 skips), --artifact-mb N (5),
 * --downloads N at once (32), --sim-threads N (worker threads for the 1,000 agents; default: CPUs),
 * --tick-ms N (control plane's rollouts.tickMs, default 1000), --profile,
 * --agent-dir DIR (parent of the simulated agents' data directories; default /dev/shm when present:
 * 1,000 agents have 1,000 disks in reality, not one shared one).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { call, insecure } from '@millwright/control-plane/cli/client.js';
import { FailureAction, GateMetric, RolloutServiceClient, RolloutSpec } from '@millwright/proto';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import postgres from 'postgres';
import { HARNESS_ADMIN_TOKEN, NatsServer, PostgresServer, S3Server, spawnControlPlane } from '../../harness/index.js';
import { CpuMeter } from '../cp/cpu.js';
import { cpuProfileNodeOptions, topSelfTime } from '../cp/profile.js';
import { type BenchContext, percentile } from '../report.js';
import { artifactSource, MODEL, pushVersion, trustKeys } from '../rollouts/artifacts.js';
import { downloadBaseline } from '../rollouts/baseline.js';
import { fleet, registerFleet } from '../rollouts/fleet.js';
import { describePhases } from '../rollouts/phases.js';
import { firstAt, type Sample, sampleUntil, tickDurations, timeline } from '../rollouts/progress.js';
import { publishFailingStats, waitReverted } from '../rollouts/rollback.js';
import { SimFleet } from '../rollouts/sim.js';

interface Env {
  ctx: BenchContext;
  natsUrl: string;
  /** The control plane's gRPC address (mwctl --server). */
  server: string;
  /** Where pushVersion wrote the artifacts. */
  dir: string;
  sql: postgres.Sql;
  js: ReturnType<typeof jetstream>;
  kv: Awaited<ReturnType<Kvm['open']>>;
  /** Pinned signing keys (base64), as the agents' config lists them. */
  trustKeys: string[];
  rollouts: RolloutServiceClient;
  cpOutput: () => string;
  meter: () => Record<string, number>;
  /** --profile: where the CPU profiles go (the control plane's, and the simulated agents' threads'). */
  profileDir: string | undefined;
}

export async function run(ctx: BenchContext): Promise<void> {
  const arg = (flag: string, dflt: string) => {
    const i = ctx.args.indexOf(flag);
    return Number(i >= 0 ? (ctx.args[i + 1] ?? dflt) : dflt);
  };
  const str = (flag: string, dflt: string) => {
    const i = ctx.args.indexOf(flag);
    return i >= 0 ? (ctx.args[i + 1] ?? dflt) : dflt;
  };
  const o = {
    agents: arg('--agents', '1000'),
    controlAgents: arg('--control-agents', '100000'),
    artifactBytes: Math.round(arg('--artifact-mb', '5') * 1024 * 1024),
    downloads: arg('--downloads', '32'),
    threads: arg('--sim-threads', String(availableParallelism())),
    tickMs: arg('--tick-ms', '1000'),
    agentDir: str('--agent-dir', existsSync('/dev/shm') ? '/dev/shm' : tmpdir()),
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
    // `bench` is this process: the simulated agents (and the baseline's bare GETs).
    return { ...cpu.sample(), bench: (u.user + u.system) / 1e6 };
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
      natsUrl: nats.url,
      server: cp.grpcAddr,
      dir,
      sql,
      js,
      kv: await new Kvm(js).open('mw_desired'),
      trustKeys: await trustKeys(cp.grpcAddr),
      rollouts,
      cpOutput: () => cp.proc.stdout,
      meter,
      profileDir,
    };
    await fullFleet(env, o);
    if (o.controlAgents > 0) await controlFleet(env, o.controlAgents);
  } finally {
    rollouts.close();
    await nc.close();
    await sql.end();
    await cp.proc.stop(30_000);
    await Promise.all([nats.dispose(), pg.dispose(), s3.dispose(), rm(dir, { recursive: true, force: true })]);
  }
  if (profileDir)
    ctx.log(`control-plane CPU profile, self time (${profileDir}):\n${topSelfTime(profileDir, 30).join('\n')}`);
}

/** 1,000 updating agents: converge on 2.0.0, then a canary of 3.0.0 fails its gate and is reverted. */
async function fullFleet(
  env: Env,
  o: { agents: number; downloads: number; threads: number; artifactBytes: number; agentDir: string },
): Promise<void> {
  const { ctx, sql } = env;
  const agents = fleet('full', o.agents);
  await registerFleet(sql, 'full', o.agents, '1.0.0');
  const simProfile = env.profileDir && join(env.profileDir, 'agents');
  const sim = new SimFleet({
    kv: env.kv,
    js: env.js,
    agents,
    mode: {
      kind: 'full',
      natsUrl: env.natsUrl,
      trustKeys: env.trustKeys,
      downloads: o.downloads,
      threads: o.threads,
      dataRoot: o.agentDir,
      ...(simProfile ? { profileDir: simProfile } : {}),
    },
  });
  await sim.start();
  try {
    const before = await baseline(env, o.agents, o.downloads);
    const conv = await converge(env, sim, 'full', '2.0.0', o.agents, 250, 300_000);
    // Again right after, so both sides of the ratio saw (about) the same noise from the rest of the box.
    const after = await baseline(env, o.agents, o.downloads);
    const base = {
      ms: (before.ms + after.ms) / 2,
      cpu: mapValues(before.cpu, (v, k) => (v + (after.cpu[k] ?? 0)) / 2),
    };
    const c = sim.counters;
    ctx.log(
      `converge: ${c.downloads} downloads, ${(c.downloadedBytes / 1e9).toFixed(2)} GB, mean ${(c.downloadMs / Math.max(1, c.downloads)).toFixed(0)} ms each with ${o.downloads} at once; ${c.urlRefreshes} URL requests (the desired state carries a presigned URL); ${c.failures} failures`,
    );
    ctx.emit({ metric: 'rollout.download_baseline_s', value: base.ms / 1000, unit: 's' });
    ctx.emit({
      metric: 'rollout.converge_s',
      value: conv.ms / 1000,
      unit: 's',
      baseline: 'rollout.download_baseline_s',
      baseline_value: base.ms / 1000,
    });
    // CPU per agent swings less with the rest of the box than seconds do.
    for (const [proc, s] of Object.entries(conv.cpu))
      ctx.emit({
        metric: `rollout.converge.cpu_ms_per_agent.${proc}`,
        value: (s * 1000) / o.agents,
        unit: 'ms',
        baseline: `rollout.download_baseline.cpu_ms_per_get.${proc}`,
        baseline_value: ((base.cpu[proc] ?? 0) * 1000) / o.agents,
      });
    await waitStatus(sql, conv.id, 'succeeded', 120_000);
    ctx.emit({ metric: 'rollout.rollback_s', value: (await rollback(env, sim)) / 1000, unit: 's' });
  } finally {
    await sim.stop();
  }
  if (simProfile)
    ctx.log(
      `simulated agents' CPU profile (worker threads), self time (${simProfile}):\n${topSelfTime(simProfile, 30).join('\n')}`,
    );
}

/** The raw limit, in the same run: bare GETs of the 2.0.0 artifact from the same s3rver (ms, CPU s per process). */
async function baseline(env: Env, count: number, concurrency: number) {
  const src = await artifactSource(env.server, env.dir, '2.0.0');
  const cpu0 = env.meter();
  const r = await downloadBaseline({ ...src, count, concurrency });
  const cpu1 = env.meter();
  env.ctx.log(
    `download baseline: ${count} bare GETs (${concurrency} at once) of the ${(src.size / 1e6).toFixed(2)} MB artifact from s3rver, each through sha256: ${(r.ms / 1000).toFixed(2)} s, ${(r.bytes / r.ms / 1e3).toFixed(0)} MB/s; CPU ${CpuMeter.describe(cpu0, cpu1, count, 'GET')}`,
  );
  return { ms: r.ms, cpu: cpuUsed(cpu0, cpu1) };
}

function cpuUsed(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return mapValues(after, (v, k) => v - (before[k] ?? 0));
}

function mapValues(o: Record<string, number>, f: (v: number, k: string) => number): Record<string, number> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v, k)]));
}

async function controlFleet(env: Env, n: number): Promise<void> {
  const { ctx, sql } = env;
  const t = Date.now();
  await registerFleet(sql, 'ctl', n, '1.0.0');
  ctx.log(`control: ${n} agents registered in ${Date.now() - t} ms`);
  const sim = new SimFleet({
    kv: env.kv,
    js: env.js,
    agents: fleet('ctl', n),
    mode: { kind: 'report', publishInFlight: 1024 },
  });
  await sim.start();
  try {
    const { ms } = await converge(env, sim, 'ctl', '2.0.0', n, 500, 900_000);
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
 * target reported ACTIVE as the control plane stored it (rollout_members). Returns ms and the rollout.
 * With updating agents, also prints and emits where each agent's time went.
 */
async function converge(
  env: Env,
  sim: SimFleet,
  label: string,
  version: string,
  n: number,
  everyMs: number,
  timeoutMs: number,
): Promise<{ ms: number; id: string; cpu: Record<string, number> }> {
  const { ctx, sql } = env;
  const want = Math.ceil(0.99 * n);
  sim.takeCounters();
  const cpu0 = env.meter();
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
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
  lag.disable();
  await sim.collect();
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
      `  this process's event-loop delay (every simulated agent's stamps carry it): p50 ${(lag.percentile(50) / 1e6).toFixed(0)} ms, p99 ${(lag.percentile(99) / 1e6).toFixed(0)} ms, max ${(lag.max / 1e6).toFixed(0)} ms`,
    ].join('\n'),
  );
  if (sim.phases.size() > 0) await wherePhases(env, sim, id, t0, want);
  return { ms: done, id, cpu: cpuUsed(cpu0, cpu1) };
}

/** Per-step view of a converge of updating agents (see ../rollouts/phases.ts), on stderr and as figures. */
async function wherePhases(env: Env, sim: SimFleet, id: string, t0: number, want: number): Promise<void> {
  await sim.phases.readIngested(env.sql, id);
  env.ctx.log(`per step:\n${describePhases(sim.phases, t0, want)}`);
  for (const m of sim.phases.milestones(t0, want))
    env.ctx.emit({ metric: `rollout.converge.at99.${m.step}_s`, value: m.ms / 1000, unit: 's' });
  for (const p of sim.phases.phases(t0))
    env.ctx.emit({ metric: `rollout.converge.phase.${p.phase}_ms_p50`, value: p.p50, unit: 'ms' });
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
  const [stage] = await sql<{ ms: number }[]>`select extract(epoch from stage_started_at)::float8 * 1000 as ms
    from rollouts where id = ${id}`;
  const t0 = Date.now();
  await publishFailingStats(env.js, canary, MODEL, '3.0.0', Math.ceil(stage!.ms), t0);
  const evidenceMs = Date.now() - t0;
  const [statusMs, ms] = await Promise.all([
    waitStatus(sql, id, 'rolled_back', 120_000).then(() => Date.now() - t0),
    waitReverted(sim, canary, '2.0.0', t0, 120_000),
  ]);
  ctx.log(
    `rollback: evidence published in ${evidenceMs} ms; rollout rolled_back after ${(statusMs / 1000).toFixed(1)} s; every canary key held 2.0.0 with a signed rollback after ${(ms / 1000).toFixed(1)} s`,
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
