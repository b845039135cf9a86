import type { AuditEntry } from '../audit/ports.js';
import type { Role } from './roles.js';

/** An API token as stored: only the sha256 of its secret is kept. */
export interface ApiTokenRecord {
  id: string;
  name: string;
  role: Role;
  tokenHash: string;
  createdBy: string;
  createdAtMs: number;
  expiresAtMs: number | undefined;
  revokedAtMs: number | undefined;
}

/** Storage of API tokens (Postgres `api_tokens`; `MemoryApiTokenStore` for unit tests). */
export interface ApiTokenStore {
  /** Inserts the token and its audit entry together. */
  insert(token: ApiTokenRecord, audit: AuditEntry | undefined): Promise<void>;
  /** Inserts unless a token with the same hash exists. @returns true when inserted. */
  insertIfAbsent(token: ApiTokenRecord, audit: AuditEntry): Promise<boolean>;
  findByHash(hash: string): Promise<ApiTokenRecord | undefined>;
  /** Newest first. */
  list(limit: number, offset: number): Promise<{ tokens: ApiTokenRecord[]; total: number }>;
  /** Sets revoked_at once (later calls keep the first time) and writes the audit entry. @returns undefined when unknown. */
  revoke(id: string, atMs: number, audit: AuditEntry): Promise<ApiTokenRecord | undefined>;
}

/** One audit log row as read back. */
export interface AuditEvent {
  id: string;
  atMs: number;
  actor: string;
  actorRole: string;
  action: string;
  target: string;
  detail: Record<string, unknown>;
  source: string;
  reason: string;
}

export interface AuditFilter {
  actor?: string | undefined;
  actionPrefix?: string | undefined;
  sinceMs?: number | undefined;
}

/** Reads the audit log newest first (Postgres `audit_log`). */
export interface AuditQuery {
  list(filter: AuditFilter, limit: number, offset: number): Promise<{ events: AuditEvent[]; total: number }>;
}
