import type postgres from 'postgres';
import type {
  DatasetObject,
  LabelKind,
  RequestStatus,
  RetrainingPolicy,
  RetrainingRequest,
  Snapshot,
  SnapshotFilter,
  TriggerKind,
} from '../../retraining/domain.js';
import type {
  HistogramDelta,
  PendingStream,
  ProjectableRecord,
  Projection,
  RequestQuery,
  RetrainingStore,
} from '../../retraining/ports.js';
import type { Sql } from './db.js';

type Tx = postgres.TransactionSql;
type Row = Record<string, unknown>;

const HOUR_MS = 3_600_000;
const ms = (d: unknown): number => (d instanceof Date ? d.getTime() : d ? new Date(String(d)).getTime() : 0);
const n = (v: unknown): number => Number(v ?? 0);
/**
 * Timestamps travel as ISO strings: drizzle, sharing this postgres.js client, turns its date and
 * json (de)serialisers into pass-throughs, so Date and object parameters would not bind.
 */
const iso = (msSinceEpoch: number): string => new Date(msSinceEpoch).toISOString();

/** Raised inside a projection transaction when another leader moved the cursor first. */
class CursorMoved extends Error {}

/** The retraining tables (operator_labels, dataset_*, retraining_*, feature_histograms) over postgres.js. */
export class PostgresRetrainingStore implements RetrainingStore {
  constructor(private readonly deps: { sql: Sql }) {}

  private get sql(): Sql {
    return this.deps.sql;
  }

  async pendingStreams(limit: number): Promise<PendingStream[]> {
    const rows = await this.sql<Row[]>`
      select s.id, s.agent_id, s.committed_seq, coalesce(c.sealed_seq, 0) as sealed_seq
      from record_streams s left join dataset_cursors c on c.stream_id = s.id
      where s.committed_seq > coalesce(c.sealed_seq, 0) order by s.id limit ${limit}`;
    return rows.map((r) => ({
      streamId: n(r.id),
      agentId: String(r.agent_id),
      sealedSeq: n(r.sealed_seq),
      committedSeq: n(r.committed_seq),
    }));
  }

  async readProjectable(streamId: number, afterSeq: number, upToSeq: number, limit: number) {
    const rows = await this.sql<Row[]>`
      select seq, ts, agent_id, site_id, kind, body from records
      where stream_id = ${streamId} and seq > ${afterSeq} and seq <= ${upToSeq}
        and kind in ('sample', 'label', 'histograms')
      order by seq limit ${limit}`;
    return rows.map(
      (r): ProjectableRecord => ({
        seq: n(r.seq),
        tsMs: ms(r.ts),
        agentId: String(r.agent_id),
        siteId: String(r.site_id),
        kind: r.kind as ProjectableRecord['kind'],
        body: r.body as Record<string, unknown>,
      }),
    );
  }

  async labelsFor(predictionIds: readonly string[]) {
    const rows = await this.sql<Row[]>`
      select distinct on (prediction_id) prediction_id, kind, note from operator_labels
      where prediction_id = any(${predictionIds as string[]}::text[]) order by prediction_id, at desc, id desc`;
    return new Map(rows.map((r) => [String(r.prediction_id), { kind: r.kind as LabelKind, note: String(r.note) }]));
  }

  async commitProjection(p: Projection): Promise<boolean> {
    try {
      await this.sql.begin(async (tx) => {
        await tx`insert into dataset_cursors (stream_id, sealed_seq) values (${p.streamId}, 0) on conflict do nothing`;
        const moved = await tx`update dataset_cursors set sealed_seq = ${p.toSeq}, updated_at = now()
          where stream_id = ${p.streamId} and sealed_seq = ${p.fromSeq} returning stream_id`;
        if (moved.length === 0) throw new CursorMoved();
        for (const l of p.labels) await insertLabel(tx, l);
        for (const o of p.objects) await upsertObject(tx, o);
        await addHistograms(tx, p.histograms);
      });
      return true;
    } catch (err) {
      if (err instanceof CursorMoved) return false;
      throw err;
    }
  }

  insertLabel(l: Parameters<RetrainingStore['insertLabel']>[0]): Promise<number> {
    return insertLabel(this.sql, l);
  }

  async listObjects(f: SnapshotFilter): Promise<DatasetObject[]> {
    const fromDay = iso(f.fromMs).slice(0, 10);
    const toDay = iso(f.toMs).slice(0, 10);
    const rows = await this.sql<Row[]>`
      select * from dataset_objects
      where model = ${f.model} and (${f.version} = '' or version = ${f.version})
        and (cardinality(${f.siteIds}::text[]) = 0 or site_id = any(${f.siteIds}::text[]))
        and day >= ${fromDay} and day <= ${toDay} and (not ${f.labelledOnly} or labelled > 0)
      order by key`;
    return rows.map((r) => ({
      key: String(r.key),
      model: String(r.model),
      version: String(r.version),
      siteId: String(r.site_id),
      day: String(r.day),
      rows: n(r.rows),
      sha256: String(r.sha256),
      sizeBytes: n(r.size_bytes),
      labelled: n(r.labelled),
      labelCounts: (r.label_counts ?? {}) as Record<string, number>,
    }));
  }

  async saveSnapshot(s: Snapshot): Promise<void> {
    await this.sql`insert into dataset_snapshots (id, filter, manifest_key, total_rows, label_summary, created_at)
      values (${s.id}, ${JSON.stringify(s.manifest.filter)}::jsonb, ${s.manifestKey},
        ${s.manifest.totalRows}, ${JSON.stringify(s.manifest.labelSummary)}::jsonb, ${iso(s.createdAtMs)})
      on conflict (id) do nothing`;
  }

  async getSnapshot(id: string) {
    const [r] = await this.sql<Row[]>`select id, manifest_key, created_at from dataset_snapshots where id = ${id}`;
    return r ? { id: String(r.id), manifestKey: String(r.manifest_key), createdAtMs: ms(r.created_at) } : undefined;
  }

  async createRequest(r: RetrainingRequest): Promise<void> {
    await this.sql`insert into retraining_requests ${this.sql(toRequestRow(r))}`;
  }

  async getRequest(id: string) {
    const [r] = await this.sql<Row[]>`select * from retraining_requests where id = ${id}`;
    return r ? fromRequestRow(r) : undefined;
  }

  async listRequests(q: RequestQuery) {
    const status = q.status ?? '';
    const rows = await this.sql<Row[]>`
      select *, count(*) over () as total from retraining_requests
      where (${q.model} = '' or model = ${q.model}) and (${status} = '' or status = ${status})
      order by created_at desc, id limit ${q.limit} offset ${q.offset}`;
    return { requests: rows.map(fromRequestRow), total: rows.length > 0 ? n(rows[0]!.total) : 0 };
  }

  async lastRequest(model: string) {
    const [r] = await this.sql<Row[]>`
      select * from retraining_requests where model = ${model} order by created_at desc, id desc limit 1`;
    return r ? fromRequestRow(r) : undefined;
  }

  async claim(c: { id: string; worker: string; nowMs: number; leaseMs: number }) {
    const now = iso(c.nowMs);
    const [r] = await this.sql<Row[]>`
      update retraining_requests set status = 'claimed', claimed_by = ${c.worker},
        claim_expires_at = ${iso(c.nowMs + c.leaseMs)}, updated_at = ${now}
      where id = (
        select id from retraining_requests
        where (${c.id} = '' or id = ${c.id})
          and (status = 'pending' or (status = 'claimed' and claim_expires_at < ${now}))
        order by created_at, id limit 1 for update skip locked)
      returning *`;
    return r ? fromRequestRow(r) : undefined;
  }

  async updateRequest(id: string, when: readonly RequestStatus[], patch: Partial<RetrainingRequest>) {
    const row = toRequestRow({ ...patch } as RetrainingRequest, true);
    const [r] = await this.sql<Row[]>`
      update retraining_requests set ${this.sql(row)}
      where id = ${id} and status = any(${when as RequestStatus[]}::text[]) returning *`;
    return r ? fromRequestRow(r) : undefined;
  }

  async getPolicy(model: string) {
    const [r] = await this.sql<Row[]>`select policy from retraining_policies where model = ${model}`;
    return r ? (r.policy as RetrainingPolicy) : undefined;
  }

  async setPolicy(p: RetrainingPolicy): Promise<void> {
    // Serialised by hand: postgres.js's json() parameter failed to bind here (ERR_INVALID_ARG_TYPE).
    const json = JSON.stringify(p);
    await this.sql`insert into retraining_policies (model, policy, updated_by, updated_at)
      values (${p.model}, ${json}::jsonb, ${p.updatedBy}, ${iso(p.updatedAtMs)})
      on conflict (model) do update set policy = excluded.policy, updated_by = excluded.updated_by,
        updated_at = excluded.updated_at`;
  }

  async listPolicies() {
    const rows = await this.sql<Row[]>`select policy from retraining_policies order by model`;
    return rows.map((r) => r.policy as RetrainingPolicy);
  }

  async histogramTotals(q: { model: string; version: string; siteId: string; fromMs: number; toMs: number }) {
    const rows = await this.sql<Row[]>`
      select version, site_id, feature, counts from feature_histograms
      where model = ${q.model} and (${q.version} = '' or version = ${q.version})
        and (${q.siteId} = '' or site_id = ${q.siteId})
        and hour >= ${iso(Math.floor(q.fromMs / HOUR_MS) * HOUR_MS)} and hour < ${iso(q.toMs)}`;
    const sums = new Map<string, { version: string; siteId: string; feature: string; counts: number[] }>();
    for (const r of rows) {
      const key = `${r.version}\u0000${r.site_id}\u0000${r.feature}`;
      const counts = (r.counts as number[]).map(Number);
      const s = sums.get(key);
      if (!s)
        sums.set(key, { version: String(r.version), siteId: String(r.site_id), feature: String(r.feature), counts });
      else if (s.counts.length === counts.length) s.counts = s.counts.map((c, i) => c + counts[i]!);
    }
    return [...sums.values()];
  }

  async quality(q: { siteId: string; fromMs: number; toMs: number }) {
    const [r] = await this.sql<Row[]>`
      select coalesce(sum((c->>'points')::numeric), 0) as points, coalesce(sum((c->>'spikes')::numeric), 0) as spikes,
        coalesce(sum((c->>'stuck')::numeric), 0) as stuck,
        count(distinct r.agent_id || '/' || (c->>'channel')) filter (where (c->>'calibrationDrift')::boolean) as drift
      from records r, jsonb_array_elements(coalesce(r.body->'cleaning'->'channels', '[]'::jsonb)) c
      where r.kind = 'cleaning' and r.site_id = ${q.siteId} and r.ts >= ${iso(q.fromMs)} and r.ts < ${iso(q.toMs)}`;
    return { points: n(r?.points), spikes: n(r?.spikes), stuck: n(r?.stuck), driftChannels: n(r?.drift) };
  }

  async modelStats(q: { version: string; siteId: string; fromMs: number; toMs: number }) {
    const [r] = await this.sql<Row[]>`
      select coalesce(sum((body->'modelStats'->>'inferences')::numeric), 0) as inferences,
        coalesce(sum((body->'modelStats'->>'alerts')::numeric), 0) as alerts
      from records where kind = 'model_stats' and site_id = ${q.siteId} and model_version = ${q.version}
        and ts >= ${iso(q.fromMs)} and ts < ${iso(q.toMs)}`;
    return { inferences: n(r?.inferences), alerts: n(r?.alerts) };
  }

  async labelPrecision(q: { version: string; siteId: string; fromMs: number; toMs: number }) {
    const [r] = await this.sql<Row[]>`
      select count(*) filter (where l.kind = 'confirmed_failure') as confirmed,
        count(*) filter (where l.kind = 'false_alarm') as false_alarms
      from operator_labels l join records r on r.kind = 'prediction' and r.agent_id = l.agent_id
        and r.body->'prediction'->>'predictionId' = l.prediction_id
      where r.site_id = ${q.siteId} and r.model_version = ${q.version} and r.decision = 2
        and l.at >= ${iso(q.fromMs)} and l.at < ${iso(q.toMs)}`;
    return { confirmed: n(r?.confirmed), falseAlarms: n(r?.false_alarms) };
  }

  async labelledSince(model: string, sinceMs: number) {
    const [r] = await this.sql<Row[]>`
      select coalesce(sum(labelled), 0) as n from dataset_objects where model = ${model} and created_at > ${iso(sinceMs)}`;
    return n(r?.n);
  }
}

async function insertLabel(sql: Sql | Tx, l: Parameters<RetrainingStore['insertLabel']>[0]): Promise<number> {
  const [r] = await sql<Row[]>`insert into operator_labels (prediction_id, agent_id, kind, note, operator, source, at)
    values (${l.predictionId}, ${l.agentId}, ${l.kind}, ${l.note}, ${l.operator}, ${l.source}, ${iso(l.atMs)})
    returning id`;
  return n(r?.id);
}

async function upsertObject(tx: Tx, o: DatasetObject): Promise<void> {
  await tx`insert into dataset_objects (key, model, version, site_id, day, rows, sha256, size_bytes, labelled, label_counts)
    values (${o.key}, ${o.model}, ${o.version}, ${o.siteId}, ${o.day}, ${o.rows}, ${o.sha256}, ${o.sizeBytes},
      ${o.labelled}, ${JSON.stringify(o.labelCounts)}::jsonb)
    on conflict (key) do update set rows = excluded.rows, sha256 = excluded.sha256, size_bytes = excluded.size_bytes,
      labelled = excluded.labelled, label_counts = excluded.label_counts`;
}

/** Adds counts into the hour rows (locked first, so concurrent adds cannot lose one). */
async function addHistograms(tx: Tx, deltas: readonly HistogramDelta[]): Promise<void> {
  const merged = new Map<string, HistogramDelta>();
  for (const d of deltas) {
    const key = [d.model, d.version, d.siteId, d.feature, d.hourMs].join('\u0000');
    const m = merged.get(key);
    if (!m) merged.set(key, { ...d, counts: [...d.counts] });
    else if (m.counts.length === d.counts.length) m.counts = m.counts.map((c, i) => c + d.counts[i]!);
  }
  for (const d of merged.values()) {
    const hour = iso(d.hourMs);
    const [cur] = await tx<
      Row[]
    >`select counts from feature_histograms where model = ${d.model} and version = ${d.version}
      and site_id = ${d.siteId} and feature = ${d.feature} and hour = ${hour} for update`;
    const old = (cur?.counts as number[] | undefined)?.map(Number);
    const counts = old && old.length === d.counts.length ? old.map((c, i) => c + d.counts[i]!) : d.counts;
    await tx`insert into feature_histograms (model, version, site_id, feature, hour, counts)
      values (${d.model}, ${d.version}, ${d.siteId}, ${d.feature}, ${hour}, ${JSON.stringify(counts)}::jsonb)
      on conflict (model, version, site_id, feature, hour) do update set counts = excluded.counts`;
  }
}

const REQUEST_COLUMNS: [keyof RetrainingRequest, string, (v: unknown) => unknown][] = [
  ['id', 'id', (v) => v],
  ['model', 'model', (v) => v],
  ['baseVersion', 'base_version', (v) => v],
  ['snapshotId', 'snapshot_id', (v) => v],
  ['trigger', 'trigger', (v) => v],
  ['reason', 'reason', (v) => v],
  ['status', 'status', (v) => v],
  ['claimedBy', 'claimed_by', (v) => v],
  ['claimExpiresAtMs', 'claim_expires_at', (v) => (v ? iso(v as number) : null)],
  ['progress', 'progress', (v) => v],
  ['progressNote', 'progress_note', (v) => v],
  ['resultVersion', 'result_version', (v) => v],
  ['createdAtMs', 'created_at', (v) => iso(v as number)],
  ['updatedAtMs', 'updated_at', (v) => iso(v as number)],
];

function toRequestRow(r: RetrainingRequest, partial = false): Row {
  const row: Row = {};
  for (const [k, col, f] of REQUEST_COLUMNS) if (!partial || r[k] !== undefined) row[col] = f(r[k]);
  return row;
}

function fromRequestRow(r: Row): RetrainingRequest {
  return {
    id: String(r.id),
    model: String(r.model),
    baseVersion: String(r.base_version),
    snapshotId: String(r.snapshot_id),
    trigger: r.trigger as TriggerKind,
    reason: String(r.reason),
    status: r.status as RequestStatus,
    claimedBy: String(r.claimed_by),
    claimExpiresAtMs: ms(r.claim_expires_at),
    progress: n(r.progress),
    progressNote: String(r.progress_note),
    resultVersion: String(r.result_version),
    createdAtMs: ms(r.created_at),
    updatedAtMs: ms(r.updated_at),
  };
}
