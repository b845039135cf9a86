import { and, count, desc, eq, gte, isNotNull, like, sql } from 'drizzle-orm';
import type { AuditEntry } from '../../audit/ports.js';
import type { ApiTokenRecord, ApiTokenStore, AuditEvent, AuditFilter, AuditQuery } from '../../security/ports.js';
import { isRole } from '../../security/roles.js';
import { insertAudit } from './audit-store.js';
import type { Db } from './db.js';
import { agents, apiTokens, auditLog } from './schema.js';

type Row = typeof apiTokens.$inferSelect;

function toRecord(r: Row): ApiTokenRecord {
  return {
    id: r.id,
    name: r.name,
    // A role this version does not know grants nothing: viewer is the least.
    role: isRole(r.role) ? r.role : 'viewer',
    tokenHash: r.tokenHash,
    createdBy: r.createdBy,
    createdAtMs: r.createdAt.getTime(),
    expiresAtMs: r.expiresAt?.getTime(),
    revokedAtMs: r.revokedAt?.getTime(),
  };
}

function toRow(t: ApiTokenRecord) {
  return {
    id: t.id,
    name: t.name,
    role: t.role,
    tokenHash: t.tokenHash,
    createdBy: t.createdBy,
    createdAt: new Date(t.createdAtMs),
    expiresAt: t.expiresAtMs === undefined ? null : new Date(t.expiresAtMs),
  };
}

/** API tokens in `api_tokens` (hash only); every change commits with its audit entry. */
export class PostgresApiTokenStore implements ApiTokenStore {
  constructor(private readonly deps: { db: Db }) {}

  async insert(token: ApiTokenRecord, audit: AuditEntry | undefined): Promise<void> {
    await this.deps.db.transaction(async (tx) => {
      await tx.insert(apiTokens).values(toRow(token));
      if (audit) await insertAudit(tx, audit);
    });
  }

  async insertIfAbsent(token: ApiTokenRecord, audit: AuditEntry): Promise<boolean> {
    return this.deps.db.transaction(async (tx) => {
      const rows = await tx
        .insert(apiTokens)
        .values(toRow(token))
        .onConflictDoNothing({ target: apiTokens.tokenHash })
        .returning({ id: apiTokens.id });
      if (rows.length === 0) return false;
      await insertAudit(tx, audit);
      return true;
    });
  }

  async findByHash(hash: string): Promise<ApiTokenRecord | undefined> {
    const [row] = await this.deps.db.select().from(apiTokens).where(eq(apiTokens.tokenHash, hash));
    return row && toRecord(row);
  }

  async list(limit: number, offset: number): Promise<{ tokens: ApiTokenRecord[]; total: number }> {
    const rows = await this.deps.db
      .select()
      .from(apiTokens)
      .orderBy(desc(apiTokens.createdAt), desc(apiTokens.id))
      .limit(limit)
      .offset(offset);
    const [total] = await this.deps.db.select({ n: count() }).from(apiTokens);
    return { tokens: rows.map(toRecord), total: total?.n ?? 0 };
  }

  async revoke(id: string, atMs: number, audit: AuditEntry): Promise<ApiTokenRecord | undefined> {
    return this.deps.db.transaction(async (tx) => {
      const [row] = await tx
        .update(apiTokens)
        .set({ revokedAt: sql`coalesce(${apiTokens.revokedAt}, ${new Date(atMs).toISOString()}::timestamptz)` })
        .where(eq(apiTokens.id, id))
        .returning();
      if (!row) return undefined;
      await insertAudit(tx, audit);
      return toRecord(row);
    });
  }
}

/** Reads `audit_log` newest first with optional actor, action prefix and time filters. */
export class PostgresAuditQuery implements AuditQuery {
  constructor(private readonly deps: { db: Db }) {}

  async list(f: AuditFilter, limit: number, offset: number): Promise<{ events: AuditEvent[]; total: number }> {
    const where = and(
      f.actor ? eq(auditLog.actor, f.actor) : undefined,
      f.actionPrefix ? like(auditLog.action, `${escapeLike(f.actionPrefix)}%`) : undefined,
      f.sinceMs ? gte(auditLog.at, new Date(f.sinceMs)) : undefined,
    );
    const rows = await this.deps.db
      .select()
      .from(auditLog)
      .where(where)
      .orderBy(desc(auditLog.at), desc(auditLog.id))
      .limit(limit)
      .offset(offset);
    const [total] = await this.deps.db.select({ n: count() }).from(auditLog).where(where);
    return {
      events: rows.map((r) => ({
        id: String(r.id),
        atMs: r.at.getTime(),
        actor: r.actor,
        actorRole: r.actorRole,
        action: r.action,
        target: r.target,
        detail: r.detail,
        source: r.source,
        reason: r.reason,
      })),
      total: total?.n ?? 0,
    };
  }
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * nkey public keys of decommissioned agents with the time they were cut off: the revocation list of
 * the NATS account JWT, rebuilt from here on every change and at start, so it survives restarts.
 */
export async function revokedAgentKeys(db: Db): Promise<{ nkeyPublic: string; atMs: number }[]> {
  const rows = await db
    .select({ key: agents.nkeyPublic, at: agents.decommissionedAt })
    .from(agents)
    .where(and(isNotNull(agents.decommissionedAt), isNotNull(agents.nkeyPublic)));
  return rows.map((r) => ({ nkeyPublic: r.key ?? '', atMs: r.at?.getTime() ?? 0 }));
}
