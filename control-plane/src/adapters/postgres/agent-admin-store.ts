import { and, eq, isNull, sql } from 'drizzle-orm';
import type { AuditEntry } from '../../audit/ports.js';
import type { TimelineEntry } from '../../domain/timeline.js';
import type { AgentAdminStore } from '../../fleet/registry-ports.js';
import { insertAudit } from './audit-store.js';
import type { Db } from './db.js';
import { agentHistory, agents } from './schema.js';

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/** Inserts one timeline entry with `tx`. */
export async function insertEntry(tx: Pick<Db, 'insert'>, e: TimelineEntry): Promise<void> {
  await tx.insert(agentHistory).values({
    agentId: e.agentId,
    at: new Date(e.atMs),
    health: e.health,
    runningModelVersion: e.runningModelVersion,
    unsentRecords: e.unsentRecords,
    event: e.event,
  });
}

/** Decommissioning and pinning, each committed with its timeline and audit entries. */
export class PostgresAgentAdminStore implements AgentAdminStore {
  constructor(private readonly deps: { db: Db }) {}

  decommission(agentId: string, entry: TimelineEntry, audit: AuditEntry): Promise<boolean> {
    return this.changeLive(entry, audit, (tx) =>
      tx
        .update(agents)
        .set({ decommissionedAt: sql`now()`, lastHealth: 'decommissioned' })
        .where(and(eq(agents.id, agentId), isNull(agents.decommissionedAt)))
        .returning({ id: agents.id }),
    );
  }

  setPinned(agentId: string, pinned: boolean, entry: TimelineEntry, audit: AuditEntry): Promise<boolean> {
    return this.changeLive(entry, audit, (tx) =>
      tx
        .update(agents)
        .set({ pinned })
        .where(and(eq(agents.id, agentId), isNull(agents.decommissionedAt)))
        .returning({ id: agents.id }),
    );
  }

  async nkeyOf(agentId: string): Promise<string | undefined> {
    const [row] = await this.deps.db
      .select({ nkey: agents.nkeyPublic })
      .from(agents)
      .where(eq(agents.id, agentId))
      .limit(1);
    return row?.nkey ?? undefined;
  }

  private changeLive(
    entry: TimelineEntry,
    audit: AuditEntry,
    update: (tx: Tx) => Promise<{ id: string }[]>,
  ): Promise<boolean> {
    return this.deps.db.transaction(async (tx) => {
      const rows = await update(tx);
      if (rows.length === 0) return false;
      await insertEntry(tx, entry);
      await insertAudit(tx, audit);
      return true;
    });
  }
}
