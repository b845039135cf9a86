import type { Sql } from './db.js';

/** One validated AgentStateReport. */
export interface StateReportRow {
  agentId: string;
  siteId: string;
  reportSeq: number;
  atMs: number;
  phase: string;
  version: string;
  previousVersion: string;
  reason: string;
  rolloutId: string;
  desiredGeneration: number;
}

/**
 * Applies agents' state reports in one transaction per batch: the event history (idempotent on
 * (agent, report_seq)), the agent's actual model state, and the state of its rollout membership.
 * Only an agent's newest report moves the current state, so redelivery or reordering never goes back.
 */
export class PostgresStateStore {
  constructor(private readonly deps: { sql: Sql }) {}

  async apply(reports: StateReportRow[]): Promise<number> {
    if (reports.length === 0) return 0;
    const json = JSON.stringify(
      reports.map((r) => ({
        a: r.agentId,
        q: r.reportSeq,
        t: new Date(r.atMs).toISOString(),
        p: r.phase,
        v: r.version,
        pv: r.previousVersion,
        re: r.reason,
        ro: r.rolloutId || null,
        g: r.desiredGeneration,
      })),
    );
    return this.deps.sql.begin(async (tx) => {
      const fresh =
        await tx`insert into agent_model_events (agent_id, report_seq, at, phase, version, previous_version, reason, rollout_id, desired_generation)
        select a, q, t, p, v, pv, re, ro, g from jsonb_to_recordset(${json}::jsonb)
          as x(a text, q bigint, t timestamptz, p text, v text, pv text, re text, ro text, g bigint)
        on conflict (agent_id, report_seq) do nothing returning agent_id, report_seq`;
      if (fresh.length === 0) return 0;
      const latest = newestPerAgent(reports, new Set(fresh.map((f) => `${f.agent_id}:${f.report_seq}`)));
      const lj = JSON.stringify(
        latest.map((r) => ({
          a: r.agentId,
          q: r.reportSeq,
          p: r.phase,
          v: r.version,
          pv: r.previousVersion,
          re: r.reason,
          ro: r.rolloutId || null,
          t: r.atMs,
        })),
      );
      await tx`update agents g set model_state = jsonb_build_object('phase', 'MODEL_STATE_PHASE_' || upper(x.p), 'version', x.v, 'reason', x.re, 'sinceMs', x.t),
          running_model_version = case when x.p = 'active' then x.v when x.p = 'rolled_back' then x.pv else g.running_model_version end
        from jsonb_to_recordset(${lj}::jsonb) as x(a text, q bigint, p text, v text, pv text, re text, ro text, t bigint)
        where g.id = x.a and not exists (select 1 from agent_model_events e where e.agent_id = x.a and e.report_seq > x.q)`;
      await tx`update rollout_members m set updated_at = now(), reason = x.re, state = case
          when m.state in ('reverting', 'reverted') then
            case when (x.p = 'active' and x.v <> r.version) or x.p = 'rolled_back' then 'reverted' else m.state end
          when x.v = r.version and x.p <> 'idle' then x.p
          else m.state end
        from jsonb_to_recordset(${lj}::jsonb) as x(a text, q bigint, p text, v text, pv text, re text, ro text, t bigint)
          join rollouts r on r.id = x.ro
        where m.rollout_id = x.ro and m.agent_id = x.a and m.state <> 'excluded'
          and not exists (select 1 from agent_model_events e where e.agent_id = x.a and e.report_seq > x.q)`;
      return fresh.length;
    }) as Promise<number>;
  }
}

function newestPerAgent(reports: StateReportRow[], fresh: Set<string>): StateReportRow[] {
  const best = new Map<string, StateReportRow>();
  for (const r of reports) {
    if (!fresh.has(`${r.agentId}:${r.reportSeq}`)) continue;
    const b = best.get(r.agentId);
    if (!b || r.reportSeq > b.reportSeq) best.set(r.agentId, r);
  }
  return [...best.values()];
}
