import type postgres from 'postgres';
import type { AuditEntry } from '../../audit/ports.js';
import { PreconditionError } from '../../domain/errors.js';
import type { ConfigLayer } from '../../rollouts/config-layers.js';
import {
  ACTIVE_STATUSES,
  type Decision,
  type Member,
  type MemberState,
  type Rollout,
  type RolloutSpec,
  type Selector,
  selectorsOverlap,
  type TargetAgent,
} from '../../rollouts/domain.js';
import { EMPTY_TOTALS, type StatsTotals } from '../../rollouts/gates.js';
import type { RolloutChange, RolloutFilter, RolloutStore, SiteWindows, StatsWindow } from '../../rollouts/ports.js';
import type { Sql } from './db.js';

type Tx = postgres.TransactionSql | Sql;
type Row = Record<string, unknown>;

/** Serialises rollout starts, so two overlapping starts cannot both pass the check. */
const START_LOCK = 0x4d570102;

/** Timestamps arrive as text (drizzle's postgres.js type parsers): `2026-01-02 03:04:05.678+00`. */
export function ms(d: unknown): number {
  if (d instanceof Date) return d.getTime();
  if (!d) return 0;
  const t = String(d)
    .replace(' ', 'T')
    .replace(/([+-]\d\d)$/, '$1:00');
  return new Date(t).getTime();
}

/** Timestamps go out as ISO text for the same reason. */
export const iso = (msValue: number): string => new Date(msValue).toISOString();

function toRollout(r: Row): Rollout {
  return {
    id: String(r.id),
    spec: r.spec as RolloutSpec,
    status: r.status as Rollout['status'],
    statusReason: String(r.status_reason ?? ''),
    currentStage: Number(r.current_stage),
    stageStartedAtMs: ms(r.stage_started_at),
    previousVersion: String(r.previous_version ?? ''),
    targetSize: Number(r.target_size),
    createdBy: String(r.created_by ?? ''),
    createdAtMs: ms(r.created_at),
    updatedAtMs: ms(r.updated_at),
  };
}

function toDecision(r: Row): Decision {
  return {
    rolloutId: String(r.rollout_id),
    atMs: ms(r.at),
    kind: r.kind as Decision['kind'],
    stage: Number(r.stage),
    gates: (r.gates ?? []) as Decision['gates'],
    actor: String(r.actor ?? ''),
    reason: String(r.reason ?? ''),
  };
}

async function insertDecision(tx: Tx, d: Decision): Promise<void> {
  await tx`insert into rollout_decisions (rollout_id, at, kind, stage, gates, actor, reason)
    values (${d.rolloutId}, ${iso(d.atMs)}, ${d.kind}, ${d.stage}, ${JSON.stringify(d.gates)}::jsonb, ${d.actor}, ${d.reason})`;
}

async function insertAudit(tx: Tx, e: AuditEntry): Promise<void> {
  await tx`insert into audit_log (at, actor, actor_role, action, target, detail, source, reason)
    values (${iso(e.atMs ?? Date.now())}, ${e.actor}, ${e.actorRole ?? ''}, ${e.action}, ${e.target},
      ${JSON.stringify(e.detail ?? {})}::jsonb, ${e.source ?? ''}, ${e.reason ?? ''})`;
}

/** New members; one that had left (`excluded`) re-joins with the new stage and state. */
async function insertMembers(tx: Tx, rolloutId: string, members: Member[]): Promise<void> {
  for (let i = 0; i < members.length; i += 5000) {
    const rows = members
      .slice(i, i + 5000)
      .map((m) => ({ a: m.agentId, s: m.stage, r: m.role, st: m.state, re: m.reason }));
    await tx`insert into rollout_members (rollout_id, agent_id, stage, role, state, reason)
      select ${rolloutId}, a, s, r, st, re from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as x(a text, s int, r text, st text, re text)
      on conflict (rollout_id, agent_id) do update set stage = excluded.stage, state = excluded.state,
        reason = excluded.reason, updated_at = now()
      where rollout_members.state = 'excluded'`;
  }
}

/**
 * A layer's `exceptAgents` are stored as rows of scope `exclusion` (`{agent}`, empty config) with the
 * layer's rollout id: they hold for every layer that rollout stored, and go with them on rollback.
 */
const EXCLUSION = 'exclusion';

async function insertLayers(tx: Tx, rolloutId: string, layers: ConfigLayer[]): Promise<void> {
  const except = new Set(layers.flatMap((l) => [...(l.exceptAgents ?? [])]));
  const rows = [
    ...layers.map((l) => ({ s: l.scope, se: l.selector, c: l.config })),
    ...[...except].map((agent) => ({ s: EXCLUSION, se: { agent }, c: {} })),
  ];
  await tx`insert into config_layers (scope, selector, config, created_by, rollout_id)
    select s, se, c, ${`rollout/${rolloutId}`}, ${rolloutId}
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as x(s text, se jsonb, c jsonb)`;
}

/** Rollouts, members, decisions, the target query and gate evidence in Postgres. */
export class PostgresRolloutStore implements RolloutStore {
  constructor(private readonly deps: { sql: Sql; offlineAfterMs: number }) {}

  async create(r: Rollout, members: Member[], decision: Decision, audit: AuditEntry): Promise<void> {
    await this.deps.sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(${START_LOCK})`;
      const active = (await tx`select * from rollouts where status in ${tx(ACTIVE_STATUSES as string[])}`).map(
        toRollout,
      );
      const conflict = active.find((a) => selectorsOverlap(a.spec.target, r.spec.target));
      if (conflict) {
        throw new PreconditionError(
          `active rollout ${conflict.id} (${conflict.spec.model}@${conflict.spec.version}) already targets overlapping agents`,
          { conflict: conflict.id },
        );
      }
      await tx`insert into rollouts (id, model, version, spec, status, status_reason, current_stage, stage_started_at,
          previous_version, target_size, created_by, created_at, updated_at)
        values (${r.id}, ${r.spec.model}, ${r.spec.version}, ${JSON.stringify(r.spec)}::jsonb, ${r.status}, ${r.statusReason},
          ${r.currentStage}, ${iso(r.stageStartedAtMs)}, ${r.previousVersion}, ${r.targetSize}, ${r.createdBy},
          ${iso(r.createdAtMs)}, ${iso(r.updatedAtMs)})`;
      await insertMembers(tx, r.id, members);
      await insertDecision(tx, decision);
      await insertAudit(tx, audit);
    });
  }

  async get(id: string): Promise<Rollout | undefined> {
    const [row] = await this.deps.sql`select * from rollouts where id = ${id}`;
    return row ? toRollout(row) : undefined;
  }

  async list(f: RolloutFilter): Promise<Rollout[]> {
    const sql = this.deps.sql;
    const rows = await sql`select * from rollouts where true
      ${f.model ? sql`and model = ${f.model}` : sql``}
      ${f.statuses ? sql`and status in ${sql(f.statuses as string[])}` : sql``}
      ${f.afterId ? sql`and (created_at, id) < (select created_at, id from rollouts where id = ${f.afterId})` : sql``}
      order by created_at desc, id desc limit ${f.limit}`;
    return rows.map(toRollout);
  }

  async change(id: string, c: RolloutChange): Promise<boolean> {
    return this.deps.sql.begin(async (tx) => {
      const p = c.patch;
      const rows = await tx`update rollouts set updated_at = now()
          ${p.status !== undefined ? tx`, status = ${p.status}` : tx``}
          ${p.statusReason !== undefined ? tx`, status_reason = ${p.statusReason}` : tx``}
          ${p.currentStage !== undefined ? tx`, current_stage = ${p.currentStage}` : tx``}
          ${p.stageStartedAtMs !== undefined ? tx`, stage_started_at = ${iso(p.stageStartedAtMs)}` : tx``}
          ${p.targetSize !== undefined ? tx`, target_size = ${p.targetSize}` : tx``}
        where id = ${id}
          ${c.expectStatus ? tx`and status in ${tx(c.expectStatus as string[])}` : tx``}
          ${c.expectStage !== undefined ? tx`and current_stage = ${c.expectStage}` : tx``}
        returning id`;
      if (rows.length === 0) return false;
      if (c.decision) await insertDecision(tx, c.decision);
      if (c.audit) await insertAudit(tx, c.audit);
      if (c.dropLayers) await tx`delete from config_layers where rollout_id = ${id}`;
      if (c.addLayers?.length) await insertLayers(tx, id, c.addLayers);
      return true;
    }) as Promise<boolean>;
  }

  async members(id: string): Promise<Member[]> {
    const rows = await this.deps
      .sql`select m.agent_id, coalesce(a.site_id, '') as site_id, m.stage, m.role, m.state, m.reason, m.updated_at
      from rollout_members m left join agents a on a.id = m.agent_id where m.rollout_id = ${id}`;
    return rows.map((r) => ({
      agentId: String(r.agent_id),
      siteId: String(r.site_id),
      stage: Number(r.stage),
      role: r.role as Member['role'],
      state: r.state as MemberState,
      reason: String(r.reason),
      updatedAtMs: ms(r.updated_at),
    }));
  }

  addMembers(id: string, members: Member[]): Promise<void> {
    return insertMembers(this.deps.sql, id, members);
  }

  async setMemberStates(
    id: string,
    updates: { agentId: string; state: MemberState; reason: string }[],
    onlyFrom?: readonly MemberState[],
  ): Promise<void> {
    const sql = this.deps.sql;
    for (let i = 0; i < updates.length; i += 5000) {
      const rows = updates.slice(i, i + 5000).map((u) => ({ a: u.agentId, s: u.state, r: u.reason }));
      await sql`update rollout_members m set state = x.s, reason = x.r, updated_at = now()
        from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as x(a text, s text, r text)
        where m.rollout_id = ${id} and m.agent_id = x.a
          ${onlyFrom ? sql`and m.state in ${sql(onlyFrom as string[])}` : sql``}`;
    }
  }

  async decisions(id: string, limit: number): Promise<Decision[]> {
    const rows = await this.deps
      .sql`select * from rollout_decisions where rollout_id = ${id} order by at, id limit ${limit}`;
    return rows.map(toDecision);
  }

  appendDecision(d: Decision): Promise<void> {
    return insertDecision(this.deps.sql, d);
  }

  async targetAgents(sel: Selector, nowMs: number): Promise<TargetAgent[]> {
    const sql = this.deps.sql;
    // Liveness lives in agent_liveness (ADR 0007); the legacy column only for agents without a row there.
    const rows =
      await sql`select id, site_id, line_id, labels, coalesce(l.last_seen, a.last_heartbeat_at) as last_heartbeat_at
      from agents a left join agent_liveness l on l.agent_id = a.id
      where decommissioned_at is null and not pinned
        ${sel.siteIds.length ? sql`and site_id in ${sql(sel.siteIds)}` : sql``}
        ${Object.keys(sel.labels).length ? sql`and labels @> ${JSON.stringify(sel.labels)}::jsonb` : sql``}
        ${sel.excludeAgentIds.length ? sql`and id not in ${sql(sel.excludeAgentIds)}` : sql``}
      order by id`;
    const since = nowMs - this.deps.offlineAfterMs;
    return rows.map((r) => ({
      id: String(r.id),
      siteId: String(r.site_id),
      lineId: String(r.line_id),
      labels: (r.labels ?? {}) as Record<string, string>,
      online: ms(r.last_heartbeat_at) >= since,
    }));
  }

  async stats(q: { windows: StatsWindow[]; version?: { version: string; onVersion: boolean } }): Promise<StatsTotals> {
    if (q.windows.length === 0) return { ...EMPTY_TOTALS };
    const sql = this.deps.sql;
    const windows = JSON.stringify(
      q.windows.map((w) => ({ a: w.agentId, f: iso(w.fromMs), t: iso(w.toMs), fm: w.fromMs })),
    );
    const v = q.version;
    const f = (k: string) => sql.unsafe(`coalesce(sum((r.body->'modelStats'->>'${k}')::float8), 0)`);
    // An interval that started before its window (e.g. before the agent took the config) is left out.
    const [row] =
      await sql`select ${f('inferences')} as inferences, ${f('errors')} as errors, ${f('nanOutputs')} as nan,
        ${f('alerts')} as alerts, ${f('shadowCompared')} as sc, ${f('shadowDisagreements')} as sd,
        coalesce(sum((r.body->'modelStats'->>'latencyP99Us')::float8 * (r.body->'modelStats'->>'inferences')::float8), 0) as p99w
      from jsonb_to_recordset(${windows}::jsonb) as w(a text, f timestamptz, t timestamptz, fm float8)
        join records r on r.agent_id = w.a and r.ts >= w.f and r.ts < w.t
      where r.kind = 'model_stats'
        and coalesce((r.body->'modelStats'->>'startMs')::float8, w.fm) >= w.fm
        ${v ? (v.onVersion ? sql`and r.model_version = ${v.version}` : sql`and r.model_version is distinct from ${v.version}`) : sql``}`;
    const n = (k: string) => Number(row?.[k] ?? 0);
    return {
      inferences: n('inferences'),
      errors: n('errors'),
      nanOutputs: n('nan'),
      alerts: n('alerts'),
      latencyP99Weighted: n('p99w'),
      shadowCompared: n('sc'),
      shadowDisagreements: n('sd'),
    };
  }

  async configAppliedAt(rolloutId: string, agentIds: string[]): Promise<Map<string, number>> {
    if (agentIds.length === 0) return new Map();
    const rows = await this.deps.sql`select e.agent_id, min(e.at) as at
      from agent_model_events e join desired_states d on d.agent_id = e.agent_id and d.rollout_id = ${rolloutId}
      where e.agent_id = any(${agentIds}::text[]) and e.rollout_id = ${rolloutId} and e.config_generation >= d.generation
      group by e.agent_id`;
    return new Map(rows.map((r) => [String(r.agent_id), ms(r.at)]));
  }

  async sites(ids: string[]): Promise<Map<string, SiteWindows>> {
    if (ids.length === 0) return new Map();
    const rows = await this.deps
      .sql`select id, time_zone, maintenance_windows from sites where id in ${this.deps.sql(ids)}`;
    return new Map(
      rows.map((r) => [
        String(r.id),
        { timeZone: String(r.time_zone), windows: (r.maintenance_windows ?? []) as SiteWindows['windows'] },
      ]),
    );
  }

  async configLayers(): Promise<ConfigLayer[]> {
    const rows = await this.deps
      .sql`select scope, selector, config, created_at, rollout_id from config_layers order by id`;
    const except = new Map<string, Set<string>>();
    for (const r of rows) {
      if (r.scope !== EXCLUSION) continue;
      const set = except.get(String(r.rollout_id)) ?? new Set<string>();
      set.add(String((r.selector as { agent?: string }).agent));
      except.set(String(r.rollout_id), set);
    }
    return rows
      .filter((r) => r.scope !== EXCLUSION)
      .map((r) => {
        const exceptAgents = r.rollout_id ? except.get(String(r.rollout_id)) : undefined;
        return {
          scope: r.scope as ConfigLayer['scope'],
          selector: (r.selector ?? {}) as Record<string, string>,
          config: (r.config ?? {}) as Record<string, unknown>,
          createdAtMs: ms(r.created_at),
          ...(exceptAgents ? { exceptAgents } : {}),
        };
      });
  }

  async runningVersions(agentIds: string[]): Promise<Map<string, string>> {
    if (agentIds.length === 0) return new Map();
    const rows = await this.deps.sql`select id, running_model_version from agents where id = any(${agentIds}::text[])`;
    return new Map(rows.map((r) => [String(r.id), String(r.running_model_version)]));
  }

  async setFleetSetting(key: string, value: Record<string, unknown>, actor: string): Promise<void> {
    await this.deps
      .sql`insert into fleet_settings (key, value, updated_by, updated_at) values (${key}, ${JSON.stringify(value)}::jsonb, ${actor}, now())
      on conflict (key) do update set value = excluded.value, updated_by = excluded.updated_by, updated_at = now()`;
  }
}
