import type { AuditEntry, AuditLog } from '../../audit/ports.js';
import type { Db } from './db.js';
import { auditLog } from './schema.js';

/** A drizzle database or transaction: audit entries can commit together with the change they describe. */
export type DbExecutor = Pick<Db, 'insert'>;

/** Inserts one audit entry with `executor` (pass the transaction of the change being audited). */
export async function insertAudit(executor: DbExecutor, e: AuditEntry): Promise<void> {
  await executor.insert(auditLog).values({
    actor: e.actor,
    actorRole: e.actorRole ?? '',
    action: e.action,
    target: e.target,
    detail: e.detail ?? {},
    source: e.source ?? '',
    reason: e.reason ?? '',
    ...(e.atMs !== undefined ? { at: new Date(e.atMs) } : {}),
  });
}

/** AuditLog over the `audit_log` table, for actions that have no transaction of their own. */
export class PostgresAuditLog implements AuditLog {
  constructor(private readonly deps: { db: Db }) {}

  record(entry: AuditEntry): Promise<void> {
    return insertAudit(this.deps.db, entry);
  }
}
