/**
 * Control-plane throughput on real servers (issue 4, "Proof"). One control-plane process; the load
 * generator is this process. Args: --agents N (records, default 1000), --batches N per agent
 * (default 2), --hb-agents N (100000), --hb-rate N/s (25000), --hb-seconds N (20),
 * --insert-mode recordset|copy, --profile (V8 CPU profile of the control plane, top functions).
 */
import { mkdtemp } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import postgres from 'postgres';
import { NatsServer, PostgresServer, S3Server, spawnControlPlane } from '../../harness/index.js';
import { CpuMeter } from '../cp/cpu.js';
import { agentId, registerAgents, runHeartbeats } from '../cp/heartbeats.js';
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
    await benchHeartbeats(ctx, nc, sql, cp.grpcAddr, meter, {
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
  grpcAddr: string,
  meter: () => Record<string, number>,
  o: { agents: number; rate: number; seconds: number },
): Promise<void> {
  await registerAgents(sql, o.agents);
  ctx.log(`heartbeats: ${o.agents} agents registered; publishing ${o.rate}/s for ${o.seconds} s (e.g. ${agentId(0)})`);
  const jsm = await jetstreamManager(nc);
  const cpu0 = meter();
  const r = await runHeartbeats({ nc, jsm, grpcAddr, ...o, sampled: 50, pollers: 4 });
  ctx.log(
    `heartbeats: CPU ${CpuMeter.describe(cpu0, meter(), r.processed, 'heartbeat')}; load ${loadavg()[0]?.toFixed(1)}`,
  );
  ctx.log(
    `heartbeats: published ${r.published}, processed ${r.processed} in ${r.seconds.toFixed(1)} s, backlog at end ${r.backlogAtEnd}, ${r.lagsMs.length} lag samples, ${r.apiMs.length} GetAgent calls`,
  );
  const [upd] = await sql<{ upd: number; hot: number }[]>`select n_tup_upd::int as upd, n_tup_hot_upd::int as hot
    from pg_stat_user_tables where relname = 'agents'`;
  ctx.log(`heartbeats: agents updates ${upd?.upd}, of which HOT ${upd?.hot}`);
  ctx.emit({ metric: 'cp.heartbeats.per_s', value: r.processed / r.seconds, unit: 'heartbeats/s' });
  ctx.emit({ metric: 'cp.heartbeats.p99_lag_ms', value: percentile(r.lagsMs, 99), unit: 'ms' });
  ctx.emit({ metric: 'cp.api.get_agent.p99_ms', value: percentile(r.apiMs, 99), unit: 'ms' });
  ctx.log(
    `heartbeats: lag p50 ${percentile(r.lagsMs, 50).toFixed(0)} ms; GetAgent p50 ${percentile(r.apiMs, 50).toFixed(2)} ms`,
  );
}

async function cpMetrics(url: string): Promise<string> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => /^mw_(records|record_batches|heartbeat|dead)\w*(_sum|_count|_total)?[{ ]/.test(l))
    .join('\n');
}
