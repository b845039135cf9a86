/**
 * Control-plane throughput on real servers (issue 4, "Proof"). One control-plane process; the load
 * generator is this process. Args: --agents N (records, default 1000), --batches N per agent
 * (default 2), --hb-agents N (100000), --hb-rate N/s (25000), --hb-seconds N (20),
 * --insert-mode recordset|copy, --profile (V8 CPU profile of the control plane, top functions).
 * Each figure has a baseline from the same run: records against a bare multi-row INSERT, heartbeats
 * against a bare multi-row upsert of liveness rows, GetAgent under heartbeats against GetAgent alone.
 */
import { mkdtemp } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import postgres from 'postgres';
import { NatsServer, PostgresServer, S3Server, spawnControlPlane } from '../../harness/index.js';
import { CpuMeter } from '../cp/cpu.js';
import { agentId, bareUpsert, getAgentAlone, registerAgents, runHeartbeats } from '../cp/heartbeats.js';
import { cpuProfileNodeOptions, topSelfTime } from '../cp/profile.js';
import { bareInsert, encodeLoad, publishAll, waitCommitted } from '../cp/records.js';
import { type BenchContext, percentile } from '../report.js';

export async function run(ctx: BenchContext): Promise<void> {
  const arg = (flag: string, dflt: string) => {
    const i = ctx.args.indexOf(flag);
    return i >= 0 ? (ctx.args[i + 1] ?? dflt) : dflt;
  };
  const profileDir = ctx.args.includes('--profile') ? await mkdtemp(join(tmpdir(), 'mw-cp-prof-')) : undefined;
  const [nats, pg, s3] = await Promise.all([
    NatsServer.start(),
    PostgresServer.start(),
    S3Server.start({ buckets: ['mw-bench'] }),
  ]);
  const dbUrl = await pg.createDatabase('bench');
  const cp = await spawnControlPlane(
    {
      MW_DATABASE_URL: dbUrl,
      MW_NATS_URL: nats.url,
      MW_S3_ENDPOINT: s3.endpoint.endpoint,
      MW_S3_BUCKET: 'mw-bench',
      MW_S3_ACCESS_KEY_ID: s3.endpoint.accessKeyId,
      MW_S3_SECRET_ACCESS_KEY: s3.endpoint.secretAccessKey,
      MW_S3_FORCE_PATH_STYLE: 'true',
      MW_INGEST_RECORDS_INSERT_MODE: arg('--insert-mode', 'recordset'),
      ...(profileDir ? { NODE_OPTIONS: cpuProfileNodeOptions(profileDir) } : {}),
    },
    'cp-bench',
  );
  const nc = await connect({ servers: nats.url });
  const sql = postgres(dbUrl, { max: 2, onnotice: () => {} });
  // The load generator is this process: count only its own CPU, not its children (the servers).
  const cpu = new CpuMeter({ cp: cp.proc.pid, postgres: pg.proc?.pid, nats: nats.proc.pid });
  const meter = (): Record<string, number> => {
    const u = process.cpuUsage();
    return { ...cpu.sample(), loadgen: (u.user + u.system) / 1e6 };
  };
  try {
    await benchRecords(ctx, nc, sql, meter, {
      agents: Number(arg('--agents', '1000')),
      batchesPerAgent: Number(arg('--batches', '2')),
      recordsPerBatch: 500,
    });
    await benchHeartbeats(ctx, nc, sql, cp, meter, {
      agents: Number(arg('--hb-agents', '100000')),
      rate: Number(arg('--hb-rate', '25000')),
      seconds: Number(arg('--hb-seconds', '20')),
    });
    ctx.log(`control-plane metrics:\n${await cpMetrics(cp.httpUrl)}`);
  } finally {
    await nc.close();
    await sql.end();
    await cp.proc.stop(30_000);
    await Promise.all([nats.dispose(), pg.dispose(), s3.dispose()]);
  }
  if (profileDir)
    ctx.log(`control-plane CPU profile, self time (${profileDir}):\n${topSelfTime(profileDir, 25).join('\n')}`);
}

async function benchRecords(
  ctx: BenchContext,
  nc: Awaited<ReturnType<typeof connect>>,
  sql: postgres.Sql,
  meter: () => Record<string, number>,
  load: { agents: number; batchesPerAgent: number; recordsPerBatch: number },
): Promise<void> {
  const msgs = encodeLoad(load);
  const total = load.agents * load.batchesPerAgent * load.recordsPerBatch;
  const bytes = msgs.reduce((n, m) => n + m.data.length, 0);
  ctx.log(`records: ${msgs.length} batches, ${total} predictions, ${(bytes / 1e6).toFixed(1)} MB encoded`);
  const js = jetstream(nc);
  const cpu0 = meter();
  const started = Date.now();
  const publishing = publishAll(js, msgs);
  await publishing;
  const published = Date.now();
  const done = await waitCommitted(sql, total, 300_000);
  const perS = total / ((done - started) / 1000);
  ctx.log(`records: published in ${published - started} ms, all committed after ${done - started} ms`);
  ctx.log(`records: CPU ${CpuMeter.describe(cpu0, meter(), total, 'record')}; load ${loadavg()[0]?.toFixed(1)}`);
  const bare = await bareInsert(sql, msgs);
  ctx.emit({
    metric: 'cp.ingest.records_per_s',
    value: perS,
    unit: 'records/s',
    baseline: 'bare_multirow_insert',
    baseline_value: bare,
  });
  const [dup] = await sql<{ n: number }[]>`select count(*)::int as n from records`;
  ctx.log(`records: ${dup?.n} rows stored (expected ${total})`);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.purge('MW_RECORDS');
}

async function benchHeartbeats(
  ctx: BenchContext,
  nc: Awaited<ReturnType<typeof connect>>,
  sql: postgres.Sql,
  cp: { grpcAddr: string; httpUrl: string },
  meter: () => Record<string, number>,
  o: { agents: number; rate: number; seconds: number },
): Promise<void> {
  await registerAgents(sql, o.agents);
  ctx.log(`heartbeats: ${o.agents} agents registered; publishing ${o.rate}/s for ${o.seconds} s (e.g. ${agentId(0)})`);
  const cpuAlone = meter();
  const alone = await getAgentAlone({ grpcAddr: cp.grpcAddr, agents: o.agents, callers: 4, ms: 3000 });
  // What serving GetAgent costs by itself: the CPU per heartbeat below includes the calls made meanwhile.
  ctx.log(`heartbeats: GetAgent alone: CPU ${CpuMeter.describe(cpuAlone, meter(), alone.length, 'call')}`);
  // Before the load, while nothing else writes: after it, a lagging control plane would still be.
  const bare = await bareUpsert(sql, o.agents);
  const jsm = await jetstreamManager(nc);
  const tables0 = await tableStats(sql);
  await cpMetrics(cp.httpUrl); // resets the event-loop lag window
  const cpu0 = meter();
  const r = await runHeartbeats({ nc, jsm, grpcAddr: cp.grpcAddr, ...o, sampled: 50, callers: 4 });
  ctx.log(
    `heartbeats: CPU ${CpuMeter.describe(cpu0, meter(), r.processed, 'heartbeat')}; load ${loadavg()[0]?.toFixed(1)}`,
  );
  ctx.log(`heartbeats: control plane ${await cpMetrics(cp.httpUrl, /^nodejs_eventloop_lag_(p50|p99|max)_seconds /)}`);
  ctx.log(
    `heartbeats: published ${r.published}, processed ${r.processed} in ${r.seconds.toFixed(1)} s, backlog at end ${r.backlogAtEnd}, superseded in the stream before delivery ~${Math.max(0, r.published - r.processed - r.backlogAtEnd)}, ${r.lagsMs.length} lag samples, ${r.apiMs.length} GetAgent calls`,
  );
  const tables1 = await tableStats(sql);
  for (const [t, s1] of Object.entries(tables1)) {
    const s0 = tables0[t] ?? { upd: 0, hot: 0 };
    ctx.log(`heartbeats: ${t} updates ${s1.upd - s0.upd}, of which HOT ${s1.hot - s0.hot}`);
  }
  ctx.emit({
    metric: 'cp.heartbeats.per_s',
    value: r.processed / r.seconds,
    unit: 'heartbeats/s',
    baseline: 'bare_multirow_upsert',
    baseline_value: bare,
  });
  ctx.emit({ metric: 'cp.heartbeats.p99_lag_ms', value: percentile(r.lagsMs, 99), unit: 'ms' });
  ctx.emit({
    metric: 'cp.api.get_agent.p99_ms',
    value: percentile(r.apiMs, 99),
    unit: 'ms',
    baseline: 'get_agent_without_heartbeats',
    baseline_value: percentile(alone, 99),
  });
  ctx.log(
    `heartbeats: lag p50 ${percentile(r.lagsMs, 50).toFixed(0)} ms; GetAgent p50 ${percentile(r.apiMs, 50).toFixed(2)} ms (without heartbeats: p50 ${percentile(alone, 50).toFixed(2)} ms, p99 ${percentile(alone, 99).toFixed(2)} ms, ${alone.length} calls)`,
  );
}

/** Updates so far of the fleet tables (pg_stat counters lag by up to a second). */
async function tableStats(sql: postgres.Sql): Promise<Record<string, { upd: number; hot: number }>> {
  const rows = await sql<{ relname: string; upd: number; hot: number }[]>`select relname, n_tup_upd::int as upd,
      n_tup_hot_upd::int as hot from pg_stat_user_tables where relname in ('agents', 'agent_liveness')`;
  return Object.fromEntries(rows.map((r) => [r.relname, { upd: r.upd, hot: r.hot }]));
}

async function cpMetrics(
  url: string,
  only = /^mw_(records|record_batches|heartbeat|dead)\w*(_sum|_count|_total)?[{ ]/,
) {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => only.test(l))
    .join('\n');
}
