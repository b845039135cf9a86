import { asc, eq, isNull, sql } from 'drizzle-orm';
import type { AuditEntry } from '../../audit/ports.js';
import {
  type EnrollAttempt,
  existingAgentRefusal,
  refuse,
  type TokenState,
  tokenRefusal,
} from '../../domain/enrollment.js';
import { NotFoundError } from '../../domain/errors.js';
import { TimelineEvent } from '../../domain/timeline.js';
import type {
  BootstrapTokenStore,
  EnrollmentStore,
  EnrollOutcome,
  NewBootstrapToken,
} from '../../fleet/registry-ports.js';
import { insertEntry } from './agent-admin-store.js';
import { insertAudit } from './audit-store.js';
import type { Db } from './db.js';
import { agents, bootstrapTokens, signingKeys, sites } from './schema.js';

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
type Attempt = EnrollAttempt & { agentId: string };

/** Bootstrap tokens and enrollment in Postgres. */
export class PostgresEnrollmentStore implements EnrollmentStore, BootstrapTokenStore {
  constructor(private readonly deps: { db: Db }) {}

  async createToken(t: NewBootstrapToken, audit: AuditEntry): Promise<void> {
    await this.deps.db.transaction(async (tx) => {
      const [site] = await tx.select({ id: sites.id }).from(sites).where(eq(sites.id, t.siteId)).for('share');
      if (!site) throw new NotFoundError('site', t.siteId);
      await tx.insert(bootstrapTokens).values({ ...t, expiresAt: new Date(t.expiresAtMs) });
      await insertAudit(tx, audit);
    });
  }

  async revokeToken(id: string, atMs: number, audit: AuditEntry): Promise<boolean> {
    return this.deps.db.transaction(async (tx) => {
      const rows = await tx
        .update(bootstrapTokens)
        .set({ revokedAt: sql`coalesce(${bootstrapTokens.revokedAt}, ${new Date(atMs).toISOString()}::timestamptz)` })
        .where(eq(bootstrapTokens.id, id))
        .returning({ id: bootstrapTokens.id });
      if (rows.length === 0) return false;
      await insertAudit(tx, audit);
      return true;
    });
  }

  async enroll(a: Attempt, nowMs: number, audit: AuditEntry): Promise<EnrollOutcome> {
    try {
      return await this.deps.db.transaction((tx) => this.enrollIn(tx, a, nowMs, audit));
    } catch (err) {
      // Two agents racing for the same new id with different tokens: the primary key decides.
      if (isUniqueViolation(err)) return refuse('agent_exists', `agent id ${a.agentId} is already enrolled`);
      throw err;
    }
  }

  async trustKeys(): Promise<string[]> {
    const rows = await this.deps.db
      .select({ key: signingKeys.publicKey })
      .from(signingKeys)
      // Every key not revoked: an agent enrolled after a rotation still verifies versions the old key signed.
      .where(isNull(signingKeys.revokedAt))
      .orderBy(asc(signingKeys.createdAt));
    return rows.map((r) => r.key);
  }

  /** The token row is locked, so concurrent uses of one token are counted one after the other. */
  private async enrollIn(tx: Tx, a: Attempt, nowMs: number, audit: AuditEntry): Promise<EnrollOutcome> {
    const [tokenRow] = await tx
      .select()
      .from(bootstrapTokens)
      .where(eq(bootstrapTokens.tokenHash, a.tokenHash))
      .for('update');
    const token = tokenRow && toTokenState(tokenRow);
    const basic = tokenRefusal(token, a.siteId, nowMs, true);
    if (basic) return basic;
    const existing = await this.existing(tx, a.agentId);
    const same = existingAgentRefusal(existing, a);
    if (typeof same === 'object') return same;
    if (same === 'same') {
      await insertAudit(tx, { ...audit, action: 'agent.reenroll' });
      return { ok: true, agentId: a.agentId, siteId: a.siteId, reenrolled: true };
    }
    const used = tokenRefusal(token, a.siteId, nowMs, false);
    if (used) return used;
    await this.record(tx, a, tokenRow!.id, nowMs, audit);
    return { ok: true, agentId: a.agentId, siteId: a.siteId, reenrolled: false };
  }

  private async existing(tx: Tx, id: string) {
    const [row] = await tx
      .select({ siteId: agents.siteId, nkey: agents.nkeyPublic, gone: agents.decommissionedAt })
      .from(agents)
      .where(eq(agents.id, id))
      .for('update');
    return row && { siteId: row.siteId, nkeyPublic: row.nkey ?? undefined, decommissioned: row.gone !== null };
  }

  private async record(tx: Tx, a: Attempt, tokenId: string, nowMs: number, audit: AuditEntry): Promise<void> {
    await tx
      .update(bootstrapTokens)
      .set({ uses: sql`${bootstrapTokens.uses} + 1` })
      .where(eq(bootstrapTokens.id, tokenId));
    await tx.insert(agents).values({
      id: a.agentId,
      siteId: a.siteId,
      lineId: a.lineId,
      labels: a.labels,
      agentVersion: a.agentVersion,
      nkeyPublic: a.nkeyPublic,
      enrolledAt: new Date(nowMs),
      // No heartbeat yet: the first one records the transition to online.
      lastHealth: 'offline',
    });
    const entry = {
      agentId: a.agentId,
      atMs: nowMs,
      health: 'offline' as const,
      runningModelVersion: '',
      unsentRecords: 0,
    };
    await insertEntry(tx, { ...entry, event: TimelineEvent.enrolled });
    await insertAudit(tx, { ...audit, detail: { ...audit.detail, tokenId } });
  }
}

function toTokenState(r: typeof bootstrapTokens.$inferSelect): TokenState {
  return {
    siteId: r.siteId,
    expiresAtMs: r.expiresAt.getTime(),
    revokedAtMs: r.revokedAt?.getTime(),
    uses: r.uses,
    maxUses: r.maxUses,
  };
}

function isUniqueViolation(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if ((e as { code?: unknown }).code === '23505') return true;
  }
  return false;
}
