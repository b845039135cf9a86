import type { AuditEntry } from '../audit/ports.js';
import type { ApiTokenRecord, ApiTokenStore } from './ports.js';

/** In-memory ApiTokenStore for unit tests; keeps the audit entries it was given. */
export class MemoryApiTokenStore implements ApiTokenStore {
  readonly tokens = new Map<string, ApiTokenRecord>();
  readonly audit: AuditEntry[] = [];

  async insert(token: ApiTokenRecord, audit: AuditEntry | undefined): Promise<void> {
    this.tokens.set(token.id, { ...token });
    if (audit) this.audit.push(audit);
  }

  async insertIfAbsent(token: ApiTokenRecord, audit: AuditEntry): Promise<boolean> {
    if (await this.findByHash(token.tokenHash)) return false;
    await this.insert(token, audit);
    return true;
  }

  async findByHash(hash: string): Promise<ApiTokenRecord | undefined> {
    return [...this.tokens.values()].find((t) => t.tokenHash === hash);
  }

  async list(limit: number, offset: number): Promise<{ tokens: ApiTokenRecord[]; total: number }> {
    const all = [...this.tokens.values()].sort((a, b) => b.createdAtMs - a.createdAtMs);
    return { tokens: all.slice(offset, offset + limit), total: all.length };
  }

  async revoke(id: string, atMs: number, audit: AuditEntry): Promise<ApiTokenRecord | undefined> {
    const t = this.tokens.get(id);
    if (!t) return undefined;
    t.revokedAtMs ??= atMs;
    this.audit.push(audit);
    return { ...t };
  }
}
