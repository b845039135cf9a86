import { and, asc, eq, gt, isNotNull, isNull, sql } from 'drizzle-orm';
import type { Agent, AgentFilter, Health, HealthThresholds, HeartbeatInfo, Page } from '../../domain/fleet.js';
import { deriveHealth } from '../../domain/fleet.js';
import type { FleetStore, UpsertResult } from '../../fleet/ports.js';
import type { Db, Sql } from './db.js';
import { agentFacts, applyLiveness, registerAgents, type Tx, writeSlowColumns } from './heartbeat-writes.js';
import { agentLiveness, agents } from './schema.js';

type AgentRow = typeof agents.$inferSelect;
type LivenessRow = typeof agentLiveness.$inferSelect;

/**
 * When the agent was last heard from. Agents without a liveness row (written straight into `agents`
 * by seeds, or never heard from) fall back to the legacy column, which heartbeats no longer write.
 */
export const lastSeenSql = sql`coalesce(${agentLiveness.lastSeen}, ${agents.lastHeartbeatAt})`;

/**
 * Fleet registry in Postgres. Heartbeats arrive coalesced (one per agent) and are written to
 * `agent_liveness` in one statement per batch; reads join it to `agents` (ADR 0007).
 */
export class PostgresFleetStore implements FleetStore {
  constructor(
    private readonly deps: {
      db: Db;
      sql: Sql;
      thresholds: HealthThresholds;
      /** Connections for heartbeat writes, apart from the API's reads. @default sql */
      writeSql?: Sql;
    },
  ) {}

  async upsertHeartbeats(beats: HeartbeatInfo[], opts: { autoRegister: boolean }): Promise<UpsertResult> {
    if (beats.length === 0) return { applied: 0, unknownAgents: [], decommissionedAgents: [] };
    const write = this.deps.writeSql ?? this.deps.sql;
    return write.begin(async (tx) => {
      const applied = await applyLiveness(tx, beats, !opts.autoRegister);
      const done = new Set(applied.map((a) => a.id));
      const rest = beats.filter((b) => !done.has(b.agentId));
      const { unknown, decommissioned } = await classify(tx, rest, !opts.autoRegister);
      if (opts.autoRegister && unknown.length > 0) {
        await registerAgents(tx, unknown);
        applied.push(...(await applyLiveness(tx, unknown, false)));
      }
      const changed = new Set(applied.filter((a) => a.changed).map((a) => a.id));
      if (changed.size > 0)
        await writeSlowColumns(
          tx,
          beats.filter((b) => changed.has(b.agentId)),
        );
      return {
        applied: applied.length,
        unknownAgents: opts.autoRegister ? [] : unknown.map((b) => b.agentId),
        decommissionedAgents: decommissioned,
      };
    }) as Promise<UpsertResult>;
  }

  async getAgent(id: string, nowMs: number): Promise<Agent | undefined> {
    const [row] = await this.deps.db
      .select()
      .from(agents)
      .leftJoin(agentLiveness, eq(agentLiveness.agentId, agents.id))
      .where(eq(agents.id, id))
      .limit(1);
    return row ? this.toAgent(row.agents, row.agent_liveness, nowMs) : undefined;
  }

  async listAgents(filter: AgentFilter, page: Page, nowMs: number): Promise<{ agents: Agent[]; total: number }> {
    const after = page.afterId;
    const conds = [after ? gt(agents.id, after) : undefined, ...this.filterConds(filter, nowMs)];
    const rows = await this.deps.db
      .select()
      .from(agents)
      // The keyset bound on both sides: a merge join then starts both index scans at the page, instead
      // of reading liveness from the first agent on for every page.
      .leftJoin(
        agentLiveness,
        and(eq(agentLiveness.agentId, agents.id), after ? gt(agentLiveness.agentId, after) : undefined),
      )
      .where(and(...conds))
      .orderBy(asc(agents.id))
      .limit(page.limit);
    // Only a health filter needs liveness to count.
    const counted = this.deps.db.select({ n: sql<number>`count(*)::int` }).from(agents);
    const [count] = await (filter.health
      ? counted.leftJoin(agentLiveness, eq(agentLiveness.agentId, agents.id))
      : counted
    ).where(and(...this.filterConds(filter, nowMs)));
    return { agents: rows.map((r) => this.toAgent(r.agents, r.agent_liveness, nowMs)), total: count?.n ?? 0 };
  }

  private filterConds(f: AgentFilter, nowMs: number) {
    const staleBefore = new Date(nowMs - this.deps.thresholds.staleAfterMs).toISOString();
    const offlineBefore = new Date(nowMs - this.deps.thresholds.offlineAfterMs).toISOString();
    const live = isNull(agents.decommissionedAt);
    const health: Record<Health, ReturnType<typeof and>> = {
      online: and(live, sql`${lastSeenSql} > ${staleBefore}::timestamptz`),
      stale: and(
        live,
        sql`${lastSeenSql} <= ${staleBefore}::timestamptz and ${lastSeenSql} > ${offlineBefore}::timestamptz`,
      ),
      offline: and(live, sql`(${lastSeenSql} is null or ${lastSeenSql} <= ${offlineBefore}::timestamptz)`),
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

  private toAgent(r: AgentRow, l: LivenessRow | null, nowMs: number): Agent {
    const live = l ? livenessOf(l) : legacyLiveness(r);
    const last = live.lastSeen?.getTime() ?? 0;
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
      buffer: live.buffer,
      resources: live.resources,
      enrolledAtMs: r.enrolledAt.getTime(),
      startedAtMs: live.startedAt?.getTime() ?? 0,
      pinned: r.pinned,
      modelState: r.modelState ?? undefined,
    };
  }
}

interface Liveness {
  lastSeen: Date | null;
  startedAt: Date | null;
  buffer: Agent['buffer'];
  resources: Agent['resources'];
}

/** The liveness an agent without a liveness row has: the legacy heartbeat columns of `agents`. */
function legacyLiveness(r: AgentRow): Liveness {
  return {
    lastSeen: r.lastHeartbeatAt,
    startedAt: r.startedAt,
    buffer: r.buffer ?? undefined,
    resources: r.resources ?? undefined,
  };
}

function livenessOf(l: LivenessRow): Liveness {
  return {
    lastSeen: l.lastSeen,
    startedAt: l.startedAt,
    buffer:
      l.unsentRecords === null
        ? undefined
        : {
            unsentRecords: l.unsentRecords,
            uncommittedRecords: l.uncommittedRecords ?? 0,
            bytesOnDisk: l.bytesOnDisk ?? 0,
            capacityBytes: l.capacityBytes ?? 0,
            headSeq: l.headSeq ?? 0,
            committedSeq: l.committedSeq ?? 0,
            lastSyncMs: l.lastSyncMs ?? 0,
            droppedByClass: l.droppedByClass ?? {},
          },
    resources:
      l.cpuPercent === null
        ? undefined
        : { cpuPercent: l.cpuPercent, rssBytes: l.rssBytes ?? 0, diskFreeBytes: l.diskFreeBytes ?? 0 },
  };
}

/** Sorts the heartbeats no liveness write applied into unknown agents and decommissioned ones (the rest were older). */
async function classify(
  tx: Tx,
  rest: HeartbeatInfo[],
  matchSite: boolean,
): Promise<{ unknown: HeartbeatInfo[]; decommissioned: string[] }> {
  if (rest.length === 0) return { unknown: [], decommissioned: [] };
  const facts = await agentFacts(
    tx,
    rest.map((b) => b.agentId),
  );
  const unknown: HeartbeatInfo[] = [];
  const decommissioned: string[] = [];
  for (const b of rest) {
    const f = facts.get(b.agentId);
    if (f?.decommissioned) decommissioned.push(b.agentId);
    else if (!f || (matchSite && f.siteId !== b.siteId)) unknown.push(b);
  }
  return { unknown, decommissioned };
}
