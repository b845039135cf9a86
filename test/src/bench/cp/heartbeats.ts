import { call, insecure } from '@millwright/control-plane/cli/client.js';
import { FleetServiceClient, Heartbeat, subjects } from '@millwright/proto';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type postgres from 'postgres';
import { HARNESS_ADMIN_TOKEN, sleep } from '../../harness/index.js';

const SITES = 100;
export const agentId = (i: number) => `hb-${i}`;
export const siteOf = (i: number) => `hsite-${i % SITES}`;

/** Registers the simulated fleet directly in Postgres (enrollment is not what is measured). */
export async function registerAgents(sql: postgres.Sql, n: number): Promise<void> {
  await sql`insert into sites (id) select 'hsite-' || i from generate_series(0, ${SITES - 1}) i on conflict do nothing`;
  await sql`insert into agents (id, site_id, labels, last_heartbeat_at, boot_id)
    select 'hb-' || i, 'hsite-' || (i % ${SITES}), '{"machine_type":"pump"}'::jsonb, now(), 'boot'
    from generate_series(0, ${n - 1}) i`;
  await sql`analyze agents`;
}

export interface HeartbeatRun {
  published: number;
  processed: number;
  seconds: number;
  backlogAtEnd: number;
  lagsMs: number[];
  apiMs: number[];
}

/**
 * Publishes heartbeats round-robin over `agents` at `rate`/s for `seconds` (core publish, as agents
 * do), while pollers call GetAgent for sampled agents: lag = first time a poll sees the new heartbeat
 * minus its publish time (resolution: one poll round).
 */
export async function runHeartbeats(o: {
  nc: NatsConnection;
  jsm: JetStreamManager;
  grpcAddr: string;
  agents: number;
  rate: number;
  seconds: number;
  sampled: number;
  pollers: number;
}): Promise<HeartbeatRun> {
  const sampledEvery = Math.floor(o.agents / o.sampled);
  const published = new Map<number, number>();
  const lastSeen = new Map<number, number>();
  const lagsMs: number[] = [];
  const apiMs: number[] = [];
  const seq = new Float64Array(o.agents);
  const ack0 = await ackFloor(o.jsm);
  const started = Date.now();
  let stop = false;
  const client = new FleetServiceClient(o.grpcAddr, insecure());
  const poll = async (worker: number) => {
    while (!stop) {
      for (let s = worker; s < o.sampled && !stop; s += o.pollers) {
        const i = s * sampledEvery;
        const t0 = performance.now();
        const a = await call(
          client,
          client.getAgent,
          { id: agentId(i) },
          { timeoutMs: 5000, token: HARNESS_ADMIN_TOKEN },
        );
        apiMs.push(performance.now() - t0);
        const pub = published.get(i);
        if (a.lastHeartbeatMs > (lastSeen.get(i) ?? 0)) {
          lastSeen.set(i, a.lastHeartbeatMs);
          if (pub !== undefined) {
            lagsMs.push(Date.now() - pub);
            published.delete(i);
          }
        }
      }
    }
  };
  const pollers = Array.from({ length: o.pollers }, (_, w) => poll(w));
  let sent = 0;
  const tickMs = 10;
  const end = started + o.seconds * 1000;
  while (Date.now() < end) {
    const due = Math.floor(((Date.now() - started) / 1000) * o.rate);
    for (; sent < due; sent++) {
      const i = sent % o.agents;
      seq[i] = (seq[i] ?? 0) + 1;
      const now = Date.now();
      o.nc.publish(subjects.edge.heartbeat(siteOf(i), agentId(i)), encodeHeartbeat(i, seq[i]!, now));
      if (i % sampledEvery === 0 && i / sampledEvery < o.sampled && !published.has(i)) published.set(i, now);
    }
    await sleep(tickMs);
  }
  await o.nc.flush();
  const ack1 = await ackFloor(o.jsm);
  const seconds = (Date.now() - started) / 1000;
  await sleep(2000);
  stop = true;
  await Promise.all(pollers);
  client.close();
  const info = await o.jsm.consumers.info(subjects.STREAMS.heartbeats, subjects.CONSUMERS.heartbeats);
  return {
    published: sent,
    processed: ack1 - ack0,
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
      startedAtMs: now - 3_600_000,
    }),
  ).finish();
}

async function ackFloor(jsm: JetStreamManager): Promise<number> {
  const info = await jsm.consumers.info(subjects.STREAMS.heartbeats, subjects.CONSUMERS.heartbeats);
  return info.ack_floor.stream_seq;
}
