/** One state-changing action: who did what to which target, when, from where and why. */
export interface AuditEntry {
  actor: string;
  /** Dotted verb, e.g. `agent.decommission`, `site.create`, `token.revoke`. */
  action: string;
  /** Id of the object acted on. */
  target: string;
  detail?: Record<string, unknown>;
  reason?: string;
  /** Where the action came from (gRPC peer, `nats:enroll`). */
  source?: string;
  actorRole?: string;
  /** Defaults to the store's clock (database `now()`). */
  atMs?: number;
}

/** Append-only audit log (Postgres `audit_log`; an in-memory fake for unit tests). */
export interface AuditLog {
  record(entry: AuditEntry): Promise<void>;
}

/** Keeps entries in memory, for unit tests. */
export class MemoryAuditLog implements AuditLog {
  readonly entries: AuditEntry[] = [];

  async record(entry: AuditEntry): Promise<void> {
    this.entries.push(entry);
  }
}

/** Who called and from where, as the API boundary saw it. */
export interface Caller {
  actor: string;
  source: string;
  /** Role of the verified API token (security): spread into audit entries as their actorRole. */
  actorRole?: string;
}
