/** The real processes of a fault test: NATS, PostgreSQL, the control plane, and helpers around agents. */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommitWatermark, subjects } from '@millwright/proto';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import postgres from 'postgres';
import {
  type ControlPlaneProcess,
  freePort,
  type ManagedProcess,
  NatsServer,
  PostgresServer,
  spawnAgent,
  spawnControlPlane,
  waitFor,
} from '../harness/index.js';

export const SITE = 'plant-f';

export interface OpenedLine {
  headSeq: number;
  sendCursor: number;
  commitCursor: number;
  bufferId: string;
  tornTail: { segment: string; offset: number; truncatedBytes: number; fault: string } | null;
  corruptions: unknown[];
}

/** Every `buffer.opened` report in a log text (pino JSON lines). */
export function openedLines(log: string): OpenedLine[] {
  return log
    .split('\n')
    .filter((l) => l.includes('"buffer.opened"'))
    .map((l) => JSON.parse(l) as OpenedLine);
}

/** Prometheus text -> value of one sample (sum over label sets matching `labels`). */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** NATS (on a port fixed up front, so agents configured before it starts find it), Postgres, control plane. */
export class FaultStack {
  nats!: NatsServer;
  pg!: PostgresServer;
  cp!: ControlPlaneProcess;
  sql!: postgres.Sql;
  nc!: NatsConnection;
  dbUrl = '';

  constructor(readonly natsPort: number) {}

  get natsUrl(): string {
    return `nats://127.0.0.1:${this.natsPort}`;
  }

  static async create(): Promise<FaultStack> {
    return new FaultStack(await freePort());
  }

  async start(): Promise<this> {
    [this.nats, this.pg] = await Promise.all([NatsServer.start({ port: this.natsPort }), PostgresServer.start()]);
    this.dbUrl = await this.pg.createDatabase();
    this.cp = await spawnControlPlane(this.cpEnv(), 'cp-fault');
    this.sql = postgres(this.dbUrl, { max: 2, onnotice: () => {} });
    this.nc = await connect({ servers: this.natsUrl, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    return this;
  }

  cpEnv(): Record<string, string> {
    return { MW_DATABASE_URL: this.dbUrl, MW_NATS_URL: this.natsUrl, MW_INGEST_HEARTBEAT_FLUSH_MS: '200' };
  }

  async restartControlPlane(): Promise<void> {
    this.cp = await spawnControlPlane(this.cpEnv(), 'cp-fault');
  }

  /** The commit watermark in KV `mw_watermark` (opened per call: the bucket may have been recreated). */
  async kvWatermark(agent: string): Promise<CommitWatermark | undefined> {
    const kv = await new Kvm(jetstream(this.nc)).open(subjects.KV.watermark);
    const e = await kv.get(subjects.agentKey(SITE, agent));
    return e?.operation === 'PUT' ? CommitWatermark.decode(e.value) : undefined;
  }

  async streams(agent: string): Promise<{ id: number; bufferId: string; committedSeq: number }[]> {
    const rows = await this.sql<{ id: string; buffer_id: string; committed_seq: string }[]>`
      select id, buffer_id, committed_seq from record_streams where agent_id = ${agent} order by id`;
    return rows.map((r) => ({ id: Number(r.id), bufferId: r.buffer_id, committedSeq: Number(r.committed_seq) }));
  }

  /** seq -> (class, kind) of every stored record of one (agent, buffer). */
  async storedRecords(agent: string, bufferId: string): Promise<Map<number, { cls: number; kind: string }>> {
    const rows = await this.sql<{ seq: string; class: number; kind: string }[]>`
      select r.seq, r.class, r.kind from records r join record_streams s on s.id = r.stream_id
      where s.agent_id = ${agent} and s.buffer_id = ${bufferId} order by r.seq`;
    return new Map(rows.map((r) => [Number(r.seq), { cls: r.class, kind: r.kind }]));
  }

  /** Waits until both the Postgres watermark and the KV watermark of (agent, buffer) reach `seq`. */
  async watermarkReaches(agent: string, bufferId: string, seq: number, timeoutMs = 120_000): Promise<void> {
    await waitFor(
      `${agent}/${bufferId} watermark ${seq}`,
      async () => {
        const row = (await this.streams(agent)).find((s) => s.bufferId === bufferId);
        if (row?.committedSeq !== seq) return undefined;
        const kv = await this.kvWatermark(agent);
        return kv?.bufferId === bufferId && kv.committedSeq === seq ? true : undefined;
      },
      timeoutMs,
      250,
    );
  }

  async dispose(): Promise<void> {
    await this.nc?.close().catch(() => {});
    await this.sql?.end().catch(() => {});
    await this.cp?.proc.stop().catch(() => {});
    await Promise.all([this.nats?.dispose(), this.pg?.dispose()]);
  }
}

export interface AgentSetup {
  agentId: string;
  dataDir: string;
  trustKey: string;
  natsUrl: string;
  /** Further MW_ settings (they win). */
  extra?: Record<string, string>;
}

export async function tempDataDir(name: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `mw-fault-${name}-`));
}

/** Simulated plant with `assets` pumps, short vibration windows (one prediction per asset every 10 ms). */
export function agentEnv(a: AgentSetup, assets = 2): Record<string, string> {
  const sim = {
    type: 'simulator',
    id: 'sim',
    seed: 7,
    assets: Array.from({ length: assets }, (_, i) => ({ name: `pump${i + 1}`, bearingFault: null })),
  };
  return {
    MW_AGENT_ID: a.agentId,
    MW_SITE_ID: SITE,
    MW_DATA_DIR: a.dataDir,
    MW_NATS_URL: a.natsUrl,
    MW_TRUST_KEYS: a.trustKey,
    MW_SOURCES: JSON.stringify([sim]),
    MW_FEATURES_VIBRATION_WINDOW_SIZE: '256',
    MW_REPORTS_INTERVAL_S: '0.2',
    MW_HEARTBEAT_INTERVAL_S: '1',
    MW_SYNC_RESEND_AFTER_S: '3',
    MW_SYNC_BATCH_RECORDS: '200',
    ...a.extra,
  };
}

/** The agent's local HTTP port, from its `data_plane.started` log line. */
export async function httpPort(proc: ManagedProcess): Promise<number> {
  const m = await proc.waitForOutput(/"httpPort":(\d+)[^\n]*"data_plane\.started"/, 60_000);
  return Number(m[1]);
}

export async function agentStatus(port: number): Promise<{
  buffer: { headSeq: number; sendCursor: number; commitCursor: number; unsent: number; bytesOnDisk: number };
}> {
  return (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as never;
}

export async function agentMetrics(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

export interface Drained {
  head: number;
  bufferId: string;
  stored: Map<number, { cls: number; kind: string }>;
}

/**
 * Starts the agent once more on its data directory with no sources (it produces nothing), takes
 * the head from its `buffer.opened` report, waits until the control plane committed up to it and
 * the agent itself learned the watermark, stops it and returns what Postgres holds.
 */
export async function drainAndRead(stack: FaultStack, a: AgentSetup, timeoutMs = 180_000): Promise<Drained> {
  const env = { ...agentEnv({ ...a, natsUrl: stack.natsUrl }), MW_SOURCES: '[]' };
  const proc = await spawnAgent(env, `${a.agentId}-drain`);
  try {
    const opened = openedLines(proc.stdout).at(-1)!;
    await stack.watermarkReaches(a.agentId, opened.bufferId, opened.headSeq, timeoutMs);
    const port = await httpPort(proc);
    await waitFor(
      'the agent learns its watermark',
      async () => ((await agentStatus(port)).buffer.commitCursor === opened.headSeq ? true : undefined),
      60_000,
    );
    return {
      head: opened.headSeq,
      bufferId: opened.bufferId,
      stored: await stack.storedRecords(a.agentId, opened.bufferId),
    };
  } finally {
    await proc.stop(60_000);
  }
}
