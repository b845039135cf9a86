import { and, asc, eq, gt, isNotNull, isNull, lte, or, sql } from 'drizzle-orm';
import type { Agent, AgentFilter, Health, HealthThresholds, HeartbeatInfo, Page } from '../../domain/fleet.js';
import { deriveHealth } from '../../domain/fleet.js';
import type { FleetStore, UpsertResult } from '../../fleet/ports.js';
import type { Db, Sql } from './db.js';
import { agents } from './schema.js';

const HEARTBEAT_COLUMNS = [
  'line_id',
  'labels',
  'agent_version',
  'running_model_version',
  'last_heartbeat_at',
  'heartbeat_seq',
  'boot_id',
  'started_at',
  'buffer',
  'resources',
];

/** `col = src.col, ...` for the columns a heartbeat updates. */
function setFrom(src: string) {
  return sql.raw(HEARTBEAT_COLUMNS.map((c) => `${c} = ${src}.${c}`).join(', '));
}

/** Ids in the heartbeat batch `json` of agents that are decommissioned (only asked when some were not applied). */
async function decommissionedAmong(tx: Pick<Db, 'execute'>, json: string): Promise<string[]> {
  const rows = await tx.execute<{ id: string }>(sql`select id from agents where decommissioned_at is not null
    and id in (select x.id from jsonb_to_recordset(${json}::jsonb) as x(id text))`);
  return rows.map((r) => r.id);
}

/** Fleet registry in Postgres. Heartbeats arrive coalesced and are written in one statement per flush. */
export class PostgresFleetStore implements FleetStore {
  constructor(
    private readonly deps: {
      db: Db;
      sql: Sql;
      thresholds: HealthThresholds;
      /** Connections for heartbeat writes, apart from the API's reads. @default db */
      writeDb?: Db;
    },
  ) {}

  async upsertHeartbeats(beats: HeartbeatInfo[], opts: { autoRegister: boolean }): Promise<UpsertResult> {
    if (beats.length === 0) return { applied: 0, unknownAgents: [] };
    const rows = beats.map((b) => ({
      id: b.agentId,
      site_id: b.siteId,
      line_id: b.lineId,
      labels: b.labels,
      agent_version: b.agentVersion,
      running_model_version: b.runningModelVersion,
      last_heartbeat_at: new Date(b.receivedAtMs).toISOString(),
      heartbeat_seq: b.heartbeatSeq,
      boot_id: b.bootId,
      started_at: new Date(b.startedAtMs || b.receivedAtMs).toISOString(),
      buffer: b.buffer ?? null,
      resources: b.resources ?? null,
    }));
    const json = JSON.stringify(rows);
    const recordset = sql.raw(`x(id text, site_id text, line_id text, labels jsonb, agent_version text,
      running_model_version text, last_heartbeat_at timestamptz, heartbeat_seq bigint, boot_id text,
      started_at timestamptz, buffer jsonb, resources jsonb)`);
    const newer = (src: string) =>
      sql.raw(`(agents.boot_id <> ${src}.boot_id or agents.heartbeat_seq < ${src}.heartbeat_seq)
        and agents.decommissioned_at is null`);
    return (this.deps.writeDb ?? this.deps.db).transaction(async (tx) => {
      if (opts.autoRegister) {
        await tx.execute(sql`insert into sites (id) select distinct site_id from jsonb_to_recordset(${json}::jsonb) as x(site_id text)
          on conflict do nothing`);
        const res =
          await tx.execute(sql`insert into agents (id, site_id, line_id, labels, agent_version, running_model_version,
            last_heartbeat_at, heartbeat_seq, boot_id, started_at, buffer, resources)
          select * from jsonb_to_recordset(${json}::jsonb) as ${recordset}
          on conflict (id) do update set ${setFrom('excluded')} where ${newer('excluded')}`);
        const applied = res.count ?? 0;
        const decommissionedAgents = applied < beats.length ? await decommissionedAmong(tx, json) : [];
        return { applied, unknownAgents: [], decommissionedAgents };
      }
      const res = await tx.execute(sql`update agents set ${setFrom('x')}
          from jsonb_to_recordset(${json}::jsonb) as ${recordset}
          where agents.id = x.id and agents.site_id = x.site_id and ${newer('x')}
          returning agents.id`);
      const known = new Set((res as unknown as { id: string }[]).map((r) => r.id));
      const decommissionedAgents = known.size < beats.length ? await decommissionedAmong(tx, json) : [];
      const gone = new Set(decommissionedAgents);
      const unknown = beats.filter((b) => !known.has(b.agentId) && !gone.has(b.agentId)).map((b) => b.agentId);
      return { applied: known.size, unknownAgents: unknown, decommissionedAgents };
    });
  }

  async getAgent(id: string, nowMs: number): Promise<Agent | undefined> {
    const [row] = await this.deps.db.select().from(agents).where(eq(agents.id, id)).limit(1);
    return row ? this.toAgent(row, nowMs) : undefined;
  }

  async listAgents(filter: AgentFilter, page: Page, nowMs: number): Promise<{ agents: Agent[]; total: number }> {
    const conds = [page.afterId ? gt(agents.id, page.afterId) : undefined, ...this.filterConds(filter, nowMs)];
    const rows = await this.deps.db
      .select()
      .from(agents)
      .where(and(...conds))
      .orderBy(asc(agents.id))
      .limit(page.limit);
    const [count] = await this.deps.db
      .select({ n: sql<number>`count(*)::int` })
      .from(agents)
      .where(and(...this.filterConds(filter, nowMs)));
    return { agents: rows.map((r) => this.toAgent(r, nowMs)), total: count?.n ?? 0 };
  }

  private filterConds(f: AgentFilter, nowMs: number) {
    const staleBefore = new Date(nowMs - this.deps.thresholds.staleAfterMs);
    const offlineBefore = new Date(nowMs - this.deps.thresholds.offlineAfterMs);
    const health: Record<Health, ReturnType<typeof and>> = {
      online: and(isNull(agents.decommissionedAt), gt(agents.lastHeartbeatAt, staleBefore)),
      stale: and(
        isNull(agents.decommissionedAt),
        lte(agents.lastHeartbeatAt, staleBefore),
        gt(agents.lastHeartbeatAt, offlineBefore),
      ),
      offline: and(
        isNull(agents.decommissionedAt),
        or(isNull(agents.lastHeartbeatAt), lte(agents.lastHeartbeatAt, offlineBefore)),
      ),
      decommissioned: isNotNull(agents.decommissionedAt),
    };
    return [
      f.siteId ? eq(agents.siteId, f.siteId) : undefined,
      f.lineId ? eq(agents.lineId, f.lineId) : undefined,
      f.labels && Object.keys(f.labels).length > 0
        ? sql`${agents.labels} @> ${JSON.stringify(f.labels)}::jsonb`
        : undefined,
      f.health ? health[f.health] : undefined,
    ];
  }

  private toAgent(r: typeof agents.$inferSelect, nowMs: number): Agent {
    const last = r.lastHeartbeatAt?.getTime() ?? 0;
    return {
      id: r.id,
      siteId: r.siteId,
      lineId: r.lineId,
      labels: r.labels,
      agentVersion: r.agentVersion,
      runningModelVersion: r.runningModelVersion,
      desiredModelVersion: r.desiredModelVersion,
      lastHeartbeatMs: last,
      health: deriveHealth(last, nowMs, this.deps.thresholds, r.decommissionedAt !== null),
      buffer: r.buffer ?? undefined,
      resources: r.resources ?? undefined,
      enrolledAtMs: r.enrolledAt.getTime(),
      startedAtMs: r.startedAt?.getTime() ?? 0,
      pinned: r.pinned,
      modelState: r.modelState ?? undefined,
    };
  }
}
