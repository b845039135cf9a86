/** Dashboard reads over `records` and `operator_labels` (the dashboard's RecordReads and LabelWriter). */
import type {
  AgentSeries,
  ChannelCleaning,
  FleetSignals,
  LabelWriter,
  PredictionView,
  ReasonView,
  RecordReads,
  SeriesPoint,
} from '../../dashboard/ports.js';
import type { Sql } from './db.js';

/** The shared pool's timestamps arrive as text (drizzle turns off postgres.js's date parsing). */
const ms = (v: string): number =>
  new Date(
    String(v)
      .replace(' ', 'T')
      .replace(/([+-]\d\d)$/, '$1:00'),
  ).getTime();

type Json = Record<string, unknown>;

const DECISIONS: Record<number, PredictionView['decision']> = { 1: 'normal', 2: 'alert', 3: 'unknown' };

/** proto3 JSON writes int64 as strings; everything numeric goes through here. */
function num(v: unknown, fallback = 0): number {
  const n = typeof v === 'string' ? Number(v) : typeof v === 'number' ? v : Number.NaN;
  return Number.isFinite(n) ? n : fallback;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function reasonOf(r: Json): ReasonView {
  const baseline = r.baseline === undefined ? null : num(r.baseline, Number.NaN);
  return {
    feature: str(r.feature),
    value: num(r.value),
    unit: str(r.unit),
    contribution: num(r.contribution),
    baseline: baseline === null || Number.isNaN(baseline) ? null : baseline,
    text: str(r.text),
  };
}

export class PostgresRecordReads implements RecordReads {
  constructor(private readonly deps: { sql: Sql }) {}

  async predictions(agentId: string, limit: number): Promise<PredictionView[]> {
    const rows = await this.deps.sql<
      { ts: string; score: number | null; decision: number | null; model_version: string | null; p: Json | null }[]
    >`select ts, score, decision, model_version, body->'prediction' as p from records
      where agent_id = ${agentId} and kind = 'prediction' order by ts desc limit ${limit}`;
    const preds = rows.map((r) => toPrediction(r));
    const ids = preds.map((p) => p.predictionId).filter((id) => id !== '');
    if (ids.length === 0) return preds;
    const labels = await this.deps.sql<{ prediction_id: string; kind: string; operator: string; at: string }[]>`
      select distinct on (prediction_id) prediction_id, kind, operator, at from operator_labels
      where prediction_id = any(${ids}::text[]) order by prediction_id, at desc, id desc`;
    const byId = new Map(labels.map((l) => [l.prediction_id, l]));
    for (const p of preds) {
      const l = byId.get(p.predictionId);
      if (l) p.label = { kind: l.kind, operator: l.operator, atMs: ms(l.at) };
    }
    return preds;
  }

  async series(agentId: string, sinceMs: number, bucketMs: number): Promise<AgentSeries> {
    const since = new Date(sinceMs).toISOString();
    const b = bucketMs / 1000;
    const preds = await this.deps.sql<{ t: number; n: number; alerts: number }[]>`
      select (floor(extract(epoch from ts) / ${b}) * ${b} * 1000)::float8 as t, count(*)::int as n,
        (count(*) filter (where decision = 2))::int as alerts
      from records where agent_id = ${agentId} and kind = 'prediction' and ts >= ${since}
      group by 1 order by 1`;
    const stats = await this.deps.sql<{ t: number; p99: number | null }[]>`
      select (floor(extract(epoch from ts) / ${b}) * ${b} * 1000)::float8 as t,
        max((body->'modelStats'->>'latencyP99Us')::float8) as p99
      from records where agent_id = ${agentId} and kind = 'model_stats' and ts >= ${since}
      group by 1 order by 1`;
    const drift = await this.deps.sql<{ t: number; d: number | null }[]>`
      select (floor(extract(epoch from r.ts) / ${b}) * ${b} * 1000)::float8 as t,
        max((c->>'driftScore')::float8) as d
      from records r, jsonb_array_elements(coalesce(r.body->'cleaning'->'channels', '[]'::jsonb)) c
      where r.agent_id = ${agentId} and r.kind = 'cleaning' and r.ts >= ${since}
      group by 1 order by 1`;
    return {
      anomalyRate: preds.map((r) => ({ t: r.t, v: r.n > 0 ? r.alerts / r.n : null })),
      predictions: preds.map((r) => ({ t: r.t, v: r.n })),
      latencyP99Us: stats.map((r): SeriesPoint => ({ t: r.t, v: r.p99 })),
      drift: drift.map((r): SeriesPoint => ({ t: r.t, v: r.d ?? 0 })),
    };
  }

  async cleaning(agentId: string, sinceMs: number): Promise<ChannelCleaning[]> {
    const rows = await this.deps.sql<{ c: Json }[]>`
      select c from records r, jsonb_array_elements(coalesce(r.body->'cleaning'->'channels', '[]'::jsonb)) c
      where r.agent_id = ${agentId} and r.kind = 'cleaning' and r.ts >= ${new Date(sinceMs).toISOString()} order by r.ts`;
    const byChannel = new Map<string, ChannelCleaning>();
    for (const { c } of rows) addQuality(byChannel, c);
    return [...byChannel.values()].sort((a, b) => a.channel.localeCompare(b.channel));
  }

  async signals(sinceMs: number): Promise<FleetSignals> {
    const since = new Date(sinceMs).toISOString();
    const drift = await this.deps.sql<{ agent_id: string; channel: string; score: number; flagged: boolean }[]>`
      select distinct on (r.agent_id) r.agent_id, c->>'channel' as channel,
        coalesce((c->>'driftScore')::float8, 0) as score, coalesce((c->>'calibrationDrift')::boolean, false) as flagged
      from records r, jsonb_array_elements(coalesce(r.body->'cleaning'->'channels', '[]'::jsonb)) c
      where r.kind = 'cleaning' and r.ts >= ${since}
      order by r.agent_id, coalesce((c->>'calibrationDrift')::boolean, false) desc,
        coalesce((c->>'driftScore')::float8, 0) desc`;
    const drops = await this.deps.sql<{ agent_id: string; n: number }[]>`
      select r.agent_id, sum(v::float8)::float8 as n
      from records r, jsonb_each_text(coalesce(r.body->'drops'->'recordsByClass', '{}'::jsonb)) as x(k, v)
      where r.kind = 'drops' and r.ts >= ${since} group by r.agent_id`;
    return {
      drift: new Map(drift.map((d) => [d.agent_id, { channel: d.channel, score: d.score, flagged: d.flagged }])),
      drops: new Map(drops.filter((d) => d.n > 0).map((d) => [d.agent_id, d.n])),
    };
  }

  async predictionAgent(predictionId: string): Promise<string | undefined> {
    // Prediction ids start with "<agent>:" (agent ids have no colon), so the agent index narrows the search.
    const agent = predictionId.slice(0, predictionId.indexOf(':'));
    const [row] = await this.deps.sql<{ agent_id: string }[]>`
      select agent_id from records where agent_id = ${agent} and kind = 'prediction'
        and body->'prediction'->>'predictionId' = ${predictionId} limit 1`;
    return row?.agent_id;
  }
}

function toPrediction(r: {
  ts: string;
  score: number | null;
  decision: number | null;
  model_version: string | null;
  p: Json | null;
}): PredictionView {
  const p = r.p ?? {};
  const reasons = Array.isArray(p.reasons) ? (p.reasons as Json[]).map(reasonOf) : [];
  return {
    predictionId: str(p.predictionId),
    tsMs: ms(r.ts),
    asset: str(p.asset),
    modelVersion: r.model_version ?? str(p.modelVersion),
    score: r.score ?? num(p.score),
    decision: DECISIONS[r.decision ?? 0] ?? 'unknown',
    latencyUs: num(p.latencyUs),
    reasons,
    label: null,
  };
}

function addQuality(byChannel: Map<string, ChannelCleaning>, c: Json): void {
  const channel = str(c.channel);
  const q = byChannel.get(channel) ?? {
    channel,
    points: 0,
    nanOrInf: 0,
    outOfRange: 0,
    spikes: 0,
    stuck: 0,
    gaps: 0,
    calibrationDrift: false,
    driftScore: 0,
  };
  q.points += num(c.points);
  q.nanOrInf += num(c.nanOrInf);
  q.outOfRange += num(c.outOfRange);
  q.spikes += num(c.spikes);
  q.stuck += num(c.stuck);
  q.gaps += num(c.gaps);
  // The latest report tells whether drift is suspected now; the score is its latest value.
  q.calibrationDrift = c.calibrationDrift === true;
  q.driftScore = num(c.driftScore);
  byChannel.set(channel, q);
}

/** Operator labels from the dashboard, audited in the same transaction. */
export class PostgresLabelWriter implements LabelWriter {
  constructor(private readonly deps: { sql: Sql }) {}

  async write(l: Parameters<LabelWriter['write']>[0]): Promise<{ id: number }> {
    return this.deps.sql.begin(async (tx) => {
      const [row] = await tx<{ id: string }[]>`
        insert into operator_labels (prediction_id, agent_id, kind, note, operator, source)
        values (${l.predictionId}, ${l.agentId}, ${l.kind}, ${l.note}, ${l.operator}, 'dashboard') returning id`;
      const detail = { predictionId: l.predictionId, kind: l.kind };
      await tx`insert into audit_log (actor, actor_role, action, target, detail, source, reason)
        values (${l.operator}, ${l.role}, 'label.create', ${l.agentId}, ${JSON.stringify(detail)}::jsonb, 'dashboard', ${l.note})`;
      return { id: Number(row!.id) };
    }) as Promise<{ id: number }>;
  }
}
