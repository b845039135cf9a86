import type postgres from 'postgres';
import type { IngestBatch, IngestRecord, SeqRange, StreamWatermark } from '../../domain/records.js';
import type { CommitResult, RecordStore } from '../../ingest/ports.js';
import { advance, type StreamProgress, sameProgress } from '../../ingest/watermark.js';
import type { Sql } from './db.js';

/**
 * How rows reach `records` on the conflict-tolerant path (see `PostgresRecordStore`): one
 * `jsonb_to_recordset` statement, or COPY into a temp table then INSERT … SELECT (both
 * `ON CONFLICT DO NOTHING`). The normal path is a direct COPY of rows proven new.
 * @default 'recordset'
 */
export type InsertMode = 'recordset' | 'copy';

type Tx = postgres.TransactionSql;

interface StreamGroup {
  agentId: string;
  siteId: string;
  bufferId: string;
  ranges: SeqRange[];
  records: IngestRecord[];
}

interface LockedStream extends StreamProgress {
  id: number;
}

/** Rows per write to the COPY stream. */
const COPY_CHUNK_ROWS = 500;

const COLUMNS = 'stream_id, seq, agent_id, site_id, ts, class, kind, model_version, score, decision, body';

/**
 * Records in Postgres, idempotent on (stream, seq). One transaction per commit: lock the streams'
 * rows (sorted, so replicas never deadlock), insert, advance watermarks.
 *
 * Under those locks a stream's stored seqs are known exactly: everything up to `committed_seq` plus
 * `pending_ranges` (gaps inside them are records the agent evicted, which never come back). So the
 * store drops already-stored records itself and COPYs only new rows straight into `records`, with no
 * conflict clause and no staging table. If a row exists anyway (written outside this store), the
 * unique violation rolls the transaction back and the commit is redone with `ON CONFLICT DO NOTHING`.
 */
export class PostgresRecordStore implements RecordStore {
  /** (agent, buffer) -> record_streams.id; a stream row is never deleted while the process runs. */
  private readonly ids = new Map<string, number>();

  constructor(private readonly deps: { sql: Sql; insertMode?: InsertMode }) {}

  async commit(batches: readonly IngestBatch[]): Promise<CommitResult> {
    const groups = groupByStream(batches);
    await this.ensureStreams(groups);
    try {
      return await this.transact(groups, 'copy_new');
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      return this.transact(groups, 'on_conflict');
    }
  }

  private async transact(groups: StreamGroup[], how: 'copy_new' | 'on_conflict'): Promise<CommitResult> {
    const res = await this.deps.sql.begin(async (tx) => {
      const locked = await lockStreams(
        tx,
        groups.map((g) => this.ids.get(streamKey(g))!),
      );
      const rows =
        how === 'copy_new'
          ? this.rows(groups, (g, id) => unstored(g, locked.get(id)))
          : this.rows(groups, (g) => g.records);
      const inserted = rows.length === 0 ? 0 : await this.insert(tx, rows, how);
      const streams = await advanceStreams(tx, groups, locked, this.ids);
      const total = groups.reduce((n, g) => n + g.records.length, 0);
      return { inserted, duplicates: total - inserted, streams };
    });
    return res as CommitResult;
  }

  private insert(tx: Tx, rows: Row[], how: 'copy_new' | 'on_conflict'): Promise<number> {
    if (how === 'copy_new') return copyInto(tx, 'records', rows);
    return this.deps.insertMode === 'copy' ? insertByCopy(tx, rows) : insertByRecordset(tx, rows);
  }

  private rows(groups: StreamGroup[], pick: (g: StreamGroup, id: number) => IngestRecord[]): Row[] {
    const rows: Row[] = [];
    for (const g of groups) {
      const id = this.ids.get(streamKey(g))!;
      for (const r of pick(g, id)) rows.push(toRow(id, g, r));
    }
    return rows;
  }

  private async ensureStreams(groups: StreamGroup[]): Promise<void> {
    const missing = groups.filter((g) => !this.ids.has(streamKey(g)));
    if (missing.length === 0) return;
    const agents = missing.map((g) => g.agentId);
    const buffers = missing.map((g) => g.bufferId);
    // Sorted insert order: two replicas creating the same new streams wait for each other instead of deadlocking.
    await this.deps.sql`insert into record_streams (agent_id, buffer_id)
      select a, b from unnest(${agents}::text[], ${buffers}::text[]) as x(a, b) order by a, b
      on conflict (agent_id, buffer_id) do nothing`;
    const rows = await this.deps.sql<{ id: string; agent_id: string; buffer_id: string }[]>`
      select r.id, r.agent_id, r.buffer_id from record_streams r
      join unnest(${agents}::text[], ${buffers}::text[]) as x(a, b) on r.agent_id = x.a and r.buffer_id = x.b`;
    for (const r of rows) this.ids.set(`${r.agent_id}\0${r.buffer_id}`, Number(r.id));
  }
}

/**
 * The group's records not yet stored, given the stream's locked progress: above `committedSeq`,
 * outside every pending range, and once each (a group may hold a batch twice, e.g. a redelivery).
 */
export function unstored(
  g: { records: readonly IngestRecord[] },
  progress: StreamProgress | undefined,
): IngestRecord[] {
  if (!progress) throw new Error('record stream vanished');
  const pending = progress.pending;
  const seen = new Set<number>();
  const out: IngestRecord[] = [];
  for (const r of g.records) {
    if (r.seq <= progress.committedSeq || seen.has(r.seq)) continue;
    if (pending.length > 0 && pending.some(([first, last]) => r.seq >= first && r.seq <= last)) continue;
    seen.add(r.seq);
    out.push(r);
  }
  return out;
}

/**
 * The COPY met a row already stored: 23505, or 25P02 when only the query behind the COPY saw the
 * failure (see `copyInto`). Any other cause fails again, and is reported, on the retry.
 */
function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '23505' || code === '25P02';
}

interface Row {
  stream_id: number;
  seq: number;
  agent_id: string;
  site_id: string;
  ts_ms: number;
  class: number;
  kind: string;
  model_version: string | null;
  score: number | null;
  decision: number | null;
  body: Record<string, unknown>;
}

function toRow(streamId: number, g: StreamGroup, r: IngestRecord): Row {
  return {
    stream_id: streamId,
    seq: r.seq,
    agent_id: g.agentId,
    site_id: g.siteId,
    ts_ms: r.tsMs,
    class: r.class,
    kind: r.kind,
    model_version: r.modelVersion ?? null,
    score: r.score ?? null,
    decision: r.decision ?? null,
    body: r.body,
  };
}

async function insertByRecordset(tx: Tx, rows: Row[]): Promise<number> {
  const res = await tx`insert into records (${tx.unsafe(COLUMNS)})
    select stream_id, seq, agent_id, site_id, to_timestamp(ts_ms / 1000.0), class, kind, model_version, score, decision, body
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as x(stream_id bigint, seq bigint, agent_id text,
      site_id text, ts_ms bigint, class smallint, kind text, model_version text, score float8, decision smallint, body jsonb)
    on conflict (stream_id, seq) do nothing`;
  return res.count;
}

async function insertByCopy(tx: Tx, rows: Row[]): Promise<number> {
  await tx`create temp table if not exists records_in (like records including defaults) on commit delete rows`;
  await copyInto(tx, 'records_in', rows);
  const res = await tx`insert into records select * from records_in on conflict (stream_id, seq) do nothing`;
  return res.count;
}

/** COPY (text format) of `rows` into `table`, in chunks so one flush never builds one huge string. */
async function copyInto(tx: Tx, table: 'records' | 'records_in', rows: Row[]): Promise<number> {
  const stream = await tx`copy ${tx(table)} (${tx.unsafe(COLUMNS)}) from stdin`.writable();
  // postgres.js (3.4) reports an error that arrives after the end of the data to no one: the stream
  // then never finishes. Once the end is sent it accepts queries again, and one queued behind the
  // COPY settles either way (as "transaction aborted" if the COPY failed): wait for whichever is first.
  const ended = new Promise<void>((resolve) => {
    const final = stream._final?.bind(stream);
    stream._final = (cb: (err?: Error | null) => void) => {
      final?.(cb);
      resolve();
    };
  });
  const written = new Promise<void>((resolve, reject) => {
    stream.on('error', reject);
    stream.on('finish', resolve);
    let i = 0;
    const write = (): void => {
      while (i < rows.length) {
        const end = Math.min(rows.length, i + COPY_CHUNK_ROWS);
        let chunk = '';
        for (; i < end; i++) chunk += copyLine(rows[i]!);
        if (!stream.write(chunk)) {
          stream.once('drain', write);
          return;
        }
      }
      stream.end();
    };
    write();
  });
  written.catch(() => {});
  const probe = ended.then(async () => {
    await tx`select 1`;
    await written;
  });
  probe.catch(() => {});
  await Promise.race([written, probe]);
  return rows.length;
}

/** One line of COPY text format. */
function copyLine(r: Row): string {
  const opt = (v: string | number | null) => (v === null ? '\\N' : typeof v === 'string' ? escText(v) : String(v));
  const ts = new Date(r.ts_ms).toISOString();
  return `${r.stream_id}\t${r.seq}\t${escText(r.agent_id)}\t${escText(r.site_id)}\t${ts}\t${r.class}\t${r.kind}\t${opt(r.model_version)}\t${opt(r.score)}\t${opt(r.decision)}\t${escJson(JSON.stringify(r.body))}\n`;
}

/** COPY text escaping of a free string: backslash and the characters COPY treats as delimiters. */
function escText(s: string): string {
  return /[\\\t\n\r]/.test(s)
    ? s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r')
    : s;
}

/** JSON.stringify never emits raw control characters, so only backslash needs doubling. */
function escJson(s: string): string {
  return s.includes('\\') ? s.replace(/\\/g, '\\\\') : s;
}

async function lockStreams(tx: Tx, ids: number[]): Promise<Map<number, LockedStream>> {
  const rows = await tx<{ id: string; committed_seq: string; pending_ranges: [number, number][] }[]>`
    select id, committed_seq, pending_ranges from record_streams where id = any(${ids}::bigint[])
    order by id for update`;
  return new Map(
    rows.map((r) => {
      const id = Number(r.id);
      return [id, { id, committedSeq: Number(r.committed_seq), pending: r.pending_ranges }];
    }),
  );
}

async function advanceStreams(
  tx: Tx,
  groups: StreamGroup[],
  locked: Map<number, LockedStream>,
  ids: Map<string, number>,
): Promise<StreamWatermark[]> {
  const changed: { id: number; c: number; p: SeqRange[] }[] = [];
  const out: StreamWatermark[] = [];
  for (const g of groups) {
    const id = ids.get(streamKey(g))!;
    const before = locked.get(id);
    if (!before) throw new Error(`record stream ${id} vanished`);
    const after = advance(before, g.ranges);
    if (!sameProgress(before, after)) changed.push({ id, c: after.committedSeq, p: after.pending });
    out.push({ siteId: g.siteId, agentId: g.agentId, bufferId: g.bufferId, committedSeq: after.committedSeq });
  }
  if (changed.length > 0) {
    await tx`update record_streams s set committed_seq = x.c, pending_ranges = x.p, updated_at = now()
      from jsonb_to_recordset(${JSON.stringify(changed)}::jsonb) as x(id bigint, c bigint, p jsonb) where s.id = x.id`;
  }
  return out;
}

function streamKey(g: { agentId: string; bufferId: string }): string {
  return `${g.agentId}\0${g.bufferId}`;
}

/** One group per (agent, buffer), sorted so every transaction locks stream rows in the same order. */
function groupByStream(batches: readonly IngestBatch[]): StreamGroup[] {
  const groups = new Map<string, StreamGroup>();
  for (const b of batches) {
    const key = streamKey(b);
    let g = groups.get(key);
    if (!g) {
      g = { agentId: b.agentId, siteId: b.siteId, bufferId: b.bufferId, ranges: [], records: [] };
      groups.set(key, g);
    }
    g.ranges.push([b.firstSeq, b.lastSeq]);
    for (const r of b.records) g.records.push(r);
  }
  return [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, g]) => g);
}
