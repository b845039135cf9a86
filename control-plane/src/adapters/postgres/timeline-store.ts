import { sql } from 'drizzle-orm';
import type { Health, HealthThresholds } from '../../domain/fleet.js';
import type { SweptAgent, TimelineEntry, TimelineEvent, Transition } from '../../domain/timeline.js';
import type { TimelineStore } from '../../fleet/registry-ports.js';
import type { Db } from './db.js';

const ENTRY_RECORDSET = sql.raw(
  'e(agent_id text, at timestamptz, health text, running_model_version text, unsent_records bigint, event text)',
);

/** Rows for jsonb_to_recordset(ENTRY_RECORDSET). */
export function entriesJson(entries: TimelineEntry[]): string {
  return JSON.stringify(
    entries.map((e) => ({
      agent_id: e.agentId,
      at: new Date(e.atMs).toISOString(),
      health: e.health,
      running_model_version: e.runningModelVersion,
      unsent_records: e.unsentRecords,
      event: e.event,
    })),
  );
}

/** The agent health timeline (agent_history) and the sweeper's view of agents. */
export class PostgresTimelineStore implements TimelineStore {
  constructor(private readonly deps: { db: Db; thresholds: HealthThresholds }) {}

  async sweepCandidates(nowMs: number, limit: number): Promise<SweptAgent[]> {
    const staleBefore = new Date(nowMs - this.deps.thresholds.staleAfterMs).toISOString();
    const offlineBefore = new Date(nowMs - this.deps.thresholds.offlineAfterMs).toISOString();
    const rows = await this.deps.db.execute<{
      id: string;
      last_heartbeat_at: string;
      last_health: Health;
      running_model_version: string;
      unsent: string;
    }>(sql`select * from (
        select a.id, a.last_health, a.running_model_version,
          coalesce(l.last_seen, a.last_heartbeat_at) as last_heartbeat_at,
          case when l.agent_id is null then coalesce((a.buffer->>'unsentRecords')::bigint, 0)
            else coalesce(l.unsent_records, 0) end as unsent
        from agents a left join agent_liveness l on l.agent_id = a.id
        where a.decommissioned_at is null) s
      where last_heartbeat_at is not null
        and last_health <> case when last_heartbeat_at >= ${staleBefore}::timestamptz then 'online'
          when last_heartbeat_at >= ${offlineBefore}::timestamptz then 'stale' else 'offline' end
      limit ${limit}`);
    return rows.map((r) => ({
      id: r.id,
      lastHeartbeatMs: new Date(r.last_heartbeat_at).getTime(),
      lastHealth: r.last_health,
      runningModelVersion: r.running_model_version,
      unsentRecords: Number(r.unsent),
    }));
  }

  async recordTransitions(transitions: Transition[]): Promise<number> {
    const changes = JSON.stringify(transitions.map((t) => ({ id: t.agentId, from_health: t.from, to_health: t.to })));
    const entries = entriesJson(transitions.flatMap((t) => t.entries));
    const res = await this.deps.db.execute(sql`with x as (
        select * from jsonb_to_recordset(${changes}::jsonb) as x(id text, from_health text, to_health text)
      ), upd as (
        update agents set last_health = x.to_health from x
        where agents.id = x.id and agents.last_health = x.from_health and agents.decommissioned_at is null
        returning agents.id
      )
      insert into agent_history (agent_id, at, health, running_model_version, unsent_records, event)
      select e.agent_id, e.at, e.health, e.running_model_version, e.unsent_records, e.event
      from jsonb_to_recordset(${entries}::jsonb) as ${ENTRY_RECORDSET}
      where e.agent_id in (select id from upd)`);
    return res.count ?? 0;
  }

  async appendBootEvents(entries: TimelineEntry[]): Promise<void> {
    await this.deps.db.execute(sql`insert into agent_history
        (agent_id, at, health, running_model_version, unsent_records, event)
      select e.agent_id, e.at, e.health, e.running_model_version, e.unsent_records,
        case when exists (select 1 from agent_history h where h.agent_id = e.agent_id
          and h.event in ('announce', 'restart')) then 'restart' else 'announce' end
      from jsonb_to_recordset(${entriesJson(entries)}::jsonb) as ${ENTRY_RECORDSET}`);
  }

  async deleteHistoryBefore(ms: number): Promise<number> {
    const res = await this.deps.db.execute(
      sql`delete from agent_history where at < ${new Date(ms).toISOString()}::timestamptz`,
    );
    return res.count ?? 0;
  }

  async history(agentId: string, sinceMs: number, limit: number): Promise<TimelineEntry[]> {
    const rows = await this.deps.db.execute<{
      at: string;
      health: Health;
      running_model_version: string;
      unsent_records: string;
      event: string;
    }>(sql`select at, health, running_model_version, unsent_records, event from agent_history
      where agent_id = ${agentId} and at >= ${new Date(sinceMs).toISOString()}::timestamptz
      order by at desc, id desc limit ${limit}`);
    return rows.reverse().map((r) => ({
      agentId,
      atMs: new Date(r.at).getTime(),
      health: r.health,
      runningModelVersion: r.running_model_version,
      unsentRecords: Number(r.unsent_records),
      event: r.event as TimelineEvent,
    }));
  }
}
