import { Heartbeat, subjects } from '@millwright/proto';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type postgres from 'postgres';
import { HARNESS_ADMIN_TOKEN, sleep } from '../../harness/index.js';
import { ApiPoller } from './api-poller.js';

const SITES = 100;
export const agentId = (i: number) => `hb-${i}`;
export const siteOf = (i: number) => `hsite-${i % SITES}`;

/** Agents of one run started an hour before it (a heartbeat's start time is fixed per boot). */
const STARTED_AT_MS = Date.now() - 3_600_000;

/**
 * Registers the simulated fleet directly in Postgres (enrollment is not what is measured), as it
 * looks after every agent sent a heartbeat: what heartbeats then do is update, not insert.
 */
export async function registerAgents(sql: postgres.Sql, n: number): Promise<void> {
  await sql`insert into sites (id) select 'hsite-' || i from generate_series(0, ${SITES - 1}) i on conflict do nothing`;
  await sql`insert into agents (id, site_id, labels, agent_version, running_model_version)
    select 'hb-' || i, 'hsite-' || (i % ${SITES}), '{"machine_type":"pump"}'::jsonb, '0.1.0', '1.4.0'
    from generate_series(0, ${n - 1}) i`;
  // Rows as wide as the heartbeats will make them: the table's pages then fill as in steady state.
  await sql`insert into agent_liveness select 'hb-' || i, now(), 0, 'boot',
      ${new Date(STARTED_AT_MS).toISOString()}::timestamptz, 0, 120, 4194304, 1073741824, 120, 0, 0, '{}'::jsonb,
      7.5, 90000000, 20000000000
    from generate_series(0, ${n - 1}) i`;
  await sql`analyze agents`;
  await sql`analyze agent_liveness`;
}

/** The agents whose GetAgent is timed: `sampled` of them, spread over the fleet. */
function sampledIds(agents: number, sampled: number): string[] {
  const every = Math.floor(agents / sampled);
  return Array.from({ length: sampled }, (_, s) => agentId(s * every));
}

/** GetAgent latencies (ms) of `callers` concurrent callers over sampled agents for `ms`, with no heartbeats flowing. */
export async function getAgentAlone(o: { grpcAddr: string; agents: number; callers: number; ms: number }) {
  const poller = new ApiPoller({
    grpcAddr: o.grpcAddr,
    token: HARNESS_ADMIN_TOKEN,
    ids: sampledIds(o.agents, 50),
    callers: o.callers,
  });
  await sleep(o.ms);
  return (await poller.stop()).apiMs;
}

export interface HeartbeatRun {
  published: number;
  /** Delivered to the control plane and acked while publishing (see `acked`). */
  processed: number;
  seconds: number;
  backlogAtEnd: number;
  lagsMs: number[];
  apiMs: number[];
}

/**
 * Publishes heartbeats round-robin over `agents` at `rate`/s for `seconds` (core publish, as agents
 * do), while callers on their own thread (./api-poller.ts) call GetAgent for sampled agents: lag =
 * first time a call sees the new heartbeat minus its publish time (resolution: one round of calls).
 */
export async function runHeartbeats(o: {
  nc: NatsConnection;
  jsm: JetStreamManager;
  grpcAddr: string;
  agents: number;
  rate: number;
  seconds: number;
  sampled: number;
  callers: number;
}): Promise<HeartbeatRun> {
  const sampledEvery = Math.floor(o.agents / o.sampled);
  const seq = new Float64Array(o.agents);
  const acked0 = await acked(o.jsm);
  const poller = new ApiPoller({
    grpcAddr: o.grpcAddr,
    token: HARNESS_ADMIN_TOKEN,
    ids: sampledIds(o.agents, o.sampled),
    callers: o.callers,
  });
  const started = Date.now();
  let sent = 0;
  const end = started + o.seconds * 1000;
  while (Date.now() < end) {
    // At most 10 ms worth per turn: a publisher that fell behind catches up in slices, not one long burst.
    const due = Math.min(Math.floor(((Date.now() - started) / 1000) * o.rate), sent + o.rate / 100);
    for (; sent < due; sent++) {
      const i = sent % o.agents;
      seq[i] = (seq[i] ?? 0) + 1;
      const now = Date.now();
      o.nc.publish(subjects.edge.heartbeat(siteOf(i), agentId(i)), encodeHeartbeat(i, seq[i]!, now));
      if (i % sampledEvery === 0 && i / sampledEvery < o.sampled) poller.published(agentId(i), now);
    }
    await sleep(sent < Math.floor(((Date.now() - started) / 1000) * o.rate) ? 0 : 10);
  }
  await o.nc.flush();
  const acked1 = await acked(o.jsm);
  const seconds = (Date.now() - started) / 1000;
  await sleep(2000);
  const { apiMs, lagsMs } = await poller.stop();
  const info = await o.jsm.consumers.info(subjects.STREAMS.heartbeats, subjects.CONSUMERS.heartbeats);
  return {
    published: sent,
    processed: acked1 - acked0,
    seconds,
    backlogAtEnd: info.num_pending + info.num_ack_pending,
    lagsMs,
    apiMs,
  };
}

function encodeHeartbeat(i: number, seq: number, now: number): Uint8Array {
  return Heartbeat.encode(
    Heartbeat.fromPartial({
      agentId: agentId(i),
      siteId: siteOf(i),
      labels: { machine_type: 'pump' },
      agentVersion: '0.1.0',
      runningModelVersion: '1.4.0',
      sentAtMs: now,
      heartbeatSeq: seq,
      bootId: 'boot',
      startedAtMs: STARTED_AT_MS,
      buffer: {
        unsentRecords: 0,
        uncommittedRecords: 120,
        bytesOnDisk: 4_194_304,
        capacityBytes: 1_073_741_824,
        headSeq: seq * 100 + 120,
        committedSeq: seq * 100,
        lastSyncMs: now,
        droppedByClass: {},
      },
      resources: { cpuPercent: 7.5, rssBytes: 90_000_000, diskFreeBytes: 20_000_000_000 },
    }),
  ).finish();
}

/**
 * Heartbeats the control plane has taken so far: deliveries of its consumer minus those still
 * awaiting their ack. Not the ack floor: the stream keeps one heartbeat per agent, and the floor also
 * passes heartbeats a newer one replaced before any delivery, which a lagging control plane never saw.
 */
async function acked(jsm: JetStreamManager): Promise<number> {
  const info = await jsm.consumers.info(subjects.STREAMS.heartbeats, subjects.CONSUMERS.heartbeats);
  return info.delivered.consumer_seq - info.num_ack_pending;
}

/**
 * The baseline: `count` heartbeats (default 100,000) of the same fleet as one client's plain multi-row
 * `INSERT … VALUES … ON CONFLICT DO UPDATE` in groups of 4,000 (16 columns: the parameter limit) into a copy of `agent_liveness` (same
 * columns, key and fillfactor) already holding every agent: no NATS, no decoding, no agent checks.
 */
export async function bareUpsert(sql: postgres.Sql, agents: number, count = 100_000, group = 4000): Promise<number> {
  await sql`create table liveness_bare (like agent_liveness including all) with (fillfactor = 50)`;
  await sql`insert into liveness_bare select * from agent_liveness`;
  await sql`analyze liveness_bare`;
  const n = count;
  const started = performance.now();
  for (let done = 0; done < n; done += group) {
    const now = new Date();
    const rows = Array.from({ length: Math.min(group, n - done) }, (_, k) => {
      const i = (done + k) % agents;
      return {
        agent_id: agentId(i),
        last_seen: now,
        heartbeat_seq: 1_000_000 + done + k,
        boot_id: 'boot',
        started_at: new Date(STARTED_AT_MS),
        unsent_records: 0,
        uncommitted_records: 120,
        bytes_on_disk: 4_194_304,
        capacity_bytes: 1_073_741_824,
        head_seq: done + k,
        committed_seq: done + k,
        last_sync_ms: now.getTime(),
        dropped_by_class: sql.json({}),
        cpu_percent: 7.5,
        rss_bytes: 90_000_000,
        disk_free_bytes: 20_000_000_000,
      };
    });
    await sql`insert into liveness_bare ${sql(rows)} on conflict (agent_id) do update set
      last_seen = excluded.last_seen, heartbeat_seq = excluded.heartbeat_seq, boot_id = excluded.boot_id,
      started_at = excluded.started_at, unsent_records = excluded.unsent_records,
      uncommitted_records = excluded.uncommitted_records, bytes_on_disk = excluded.bytes_on_disk,
      capacity_bytes = excluded.capacity_bytes, head_seq = excluded.head_seq, committed_seq = excluded.committed_seq,
      last_sync_ms = excluded.last_sync_ms, dropped_by_class = excluded.dropped_by_class,
      cpu_percent = excluded.cpu_percent, rss_bytes = excluded.rss_bytes, disk_free_bytes = excluded.disk_free_bytes
      where liveness_bare.heartbeat_seq < excluded.heartbeat_seq`;
  }
  const perS = n / ((performance.now() - started) / 1000);
  await sql`drop table liveness_bare`;
  return perS;
}
