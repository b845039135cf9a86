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
  /** Desired-state generation whose config the agent has in effect. */
  configGeneration: number;
  /**
   * Why the agent refused the config of `desiredGeneration` ('' or absent: it did not). The model part
   * may still go ahead, so the phase can be ACTIVE while the config was refused.
   */
  configError?: string;
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
        cg: r.configGeneration,
      })),
    );
    return this.deps.sql.begin(async (tx) => {
      const fresh =
        await tx`insert into agent_model_events (agent_id, report_seq, at, phase, version, previous_version, reason, rollout_id, desired_generation, config_generation)
        select a, q, t, p, v, pv, re, ro, g, cg from jsonb_to_recordset(${json}::jsonb)
          as x(a text, q bigint, t timestamptz, p text, v text, pv text, re text, ro text, g bigint, cg bigint)
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
          g: r.desiredGeneration,
          cg: r.configGeneration,
          ce: r.configError ?? '',
        })),
      );
      await tx`update agents g set model_state = jsonb_build_object('phase', 'MODEL_STATE_PHASE_' || upper(x.p), 'version', x.v, 'reason', x.re, 'sinceMs', x.t),
          running_model_version = case when x.p = 'active' then x.v when x.p = 'rolled_back' then x.pv else g.running_model_version end
        from jsonb_to_recordset(${lj}::jsonb) as x(a text, q bigint, p text, v text, pv text, re text, ro text, t bigint)
        where g.id = x.a and not exists (select 1 from agent_model_events e where e.agent_id = x.a and e.report_seq > x.q)`;
      // d: the agent's desired state as this rollout last wrote it (Postgres commits it before KV, so
      // it is there by the time the agent reports it). A config rollout's agent has converged once
      // the config of that generation is in effect; a FAILED report of that generation without it in
      // effect, or one with a config error (the model went ahead), is a refused config. A config-only
      // rollout never changes the model.
      await tx`update rollout_members m set updated_at = now(), reason = x.re, state = case
          when m.state in ('reverting', 'reverted') then
            case when r.version = '' then case when x.cg >= d.generation then 'reverted' else m.state end
              when (x.p = 'active' and x.v <> r.version) or x.p = 'rolled_back' then 'reverted' else m.state end
          when (x.p = 'failed' or x.ce <> '') and x.g >= d.generation and x.cg < d.generation then 'failed'
          when r.version = '' then
            case when x.p in ('active', 'idle') and x.cg >= d.generation then 'active' else m.state end
          when x.v = r.version and x.p <> 'idle' then
            case when x.p = 'active' and jsonb_typeof(r.spec->'config') = 'object' and not (x.cg >= d.generation) then m.state else x.p end
          else m.state end
        from jsonb_to_recordset(${lj}::jsonb) as x(a text, q bigint, p text, v text, pv text, re text, ro text, t bigint, g bigint, cg bigint, ce text)
          join rollouts r on r.id = x.ro
          left join desired_states d on d.agent_id = x.a and d.rollout_id = x.ro
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
