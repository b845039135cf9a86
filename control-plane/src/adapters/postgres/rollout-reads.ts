/**
 * Read model of rollouts for the dashboard, straight from the rollouts tables (schema 0001), so the
 * page works whichever replica leads the controller. The spec and gate JSON are read leniently:
 * their shape belongs to the rollout service.
 */
import type { GateView, RolloutReads, RolloutSummary } from '../../dashboard/ports.js';
import type { Sql } from './db.js';

/** The shared pool's timestamps arrive as text (drizzle turns off postgres.js's date parsing). */
const ms = (v: string): number =>
  new Date(
    String(v)
      .replace(' ', 'T')
      .replace(/([+-]\d\d)$/, '$1:00'),
  ).getTime();

type Json = Record<string, unknown>;

interface RolloutRow {
  id: string;
  model: string;
  version: string;
  spec: Json;
  status: string;
  status_reason: string;
  current_stage: number;
  previous_version: string;
  target_size: number;
  created_by: string;
  created_at: string;
  updated_at: string;
}

const numOrNull = (v: unknown): number | null => {
  const n = typeof v === 'string' ? Number(v) : typeof v === 'number' ? v : Number.NaN;
  return Number.isFinite(n) ? n : null;
};

export class PostgresRolloutReads implements RolloutReads {
  constructor(private readonly deps: { sql: Sql }) {}

  async list(limit: number): Promise<RolloutSummary[]> {
    const rows = await this.deps.sql<RolloutRow[]>`
      select * from rollouts order by (status in ('running', 'paused')) desc, updated_at desc limit ${limit}`;
    return Promise.all(rows.map((r) => this.summary(r)));
  }

  async get(id: string): Promise<RolloutSummary | undefined> {
    const [row] = await this.deps.sql<RolloutRow[]>`select * from rollouts where id = ${id}`;
    return row ? this.summary(row) : undefined;
  }

  private async summary(r: RolloutRow): Promise<RolloutSummary> {
    const members = await this.deps.sql<{ stage: number; role: string; state: string; count: number }[]>`
      select stage, role, state, count(*)::int as count from rollout_members where rollout_id = ${r.id}
      group by stage, role, state order by stage, role, state`;
    const decisions = await this.deps.sql<
      { at: string; kind: string; stage: number; gates: Json[]; actor: string; reason: string }[]
    >`select at, kind, stage, gates, actor, reason from rollout_decisions where rollout_id = ${r.id}
      order by at desc, id desc limit 50`;
    const latestGates = decisions.find((d) => Array.isArray(d.gates) && d.gates.length > 0)?.gates ?? [];
    return {
      id: r.id,
      model: r.model,
      version: r.version,
      previousVersion: r.previous_version,
      status: r.status,
      statusReason: r.status_reason,
      currentStage: r.current_stage,
      stages: stagesOf(r.spec),
      targetSize: r.target_size,
      members: [...members],
      gates: latestGates.map(gateOf),
      decisions: decisions.map((d) => ({
        atMs: ms(d.at),
        kind: d.kind,
        stage: d.stage,
        actor: d.actor,
        reason: d.reason,
      })),
      createdBy: r.created_by,
      createdAtMs: ms(r.created_at),
      updatedAtMs: ms(r.updated_at),
    };
  }
}

function stagesOf(spec: Json): RolloutSummary['stages'] {
  const stages = Array.isArray(spec.stages) ? (spec.stages as Json[]) : [];
  return stages.map((s, i) => ({
    name: typeof s.name === 'string' && s.name ? s.name : `stage ${i + 1}`,
    percent: numOrNull(s.percent ?? s.percentage ?? s.fraction),
    minDurationS: numOrNull(s.minDurationS ?? s.durationS ?? s.bakeS),
  }));
}

function gateOf(g: Json): GateView {
  const passed = typeof g.passed === 'boolean' ? g.passed : typeof g.ok === 'boolean' ? g.ok : null;
  return {
    name: String(g.name ?? g.gate ?? g.metric ?? 'gate'),
    value: numOrNull(g.value ?? g.observed),
    threshold: numOrNull(g.threshold ?? g.limit),
    passed,
    detail: typeof g.detail === 'string' ? g.detail : typeof g.reason === 'string' ? g.reason : '',
  };
}
