import { describe, expect, it } from 'vitest';
import { MemoryAuditLog } from '../audit/ports.js';
import { InvalidArgumentError } from '../domain/errors.js';
import type { BootstrapTokenStore, NewBootstrapToken } from './registry-ports.js';
import { BootstrapTokenService, generateToken, hashToken, TOKEN_PREFIX, validateTokenRequest } from './tokens.js';

class MemoryTokens implements BootstrapTokenStore {
  readonly rows: NewBootstrapToken[] = [];
  readonly audit = new MemoryAuditLog();

  async createToken(t: NewBootstrapToken, audit: Parameters<BootstrapTokenStore['createToken']>[1]): Promise<void> {
    this.rows.push(t);
    await this.audit.record(audit);
  }

  async revokeToken(id: string): Promise<boolean> {
    return this.rows.some((r) => r.id === id);
  }
}

describe('bootstrap tokens', () => {
  it('are 32 random bytes behind a recognisable prefix, with a separate id', () => {
    const { id, token } = generateToken();
    expect(token.startsWith(TOKEN_PREFIX)).toBe(true);
    expect(Buffer.from(token.slice(TOKEN_PREFIX.length), 'base64url')).toHaveLength(32);
    expect(token).not.toContain(id);
  });

  it('are stored only as their sha256', async () => {
    const store = new MemoryTokens();
    const svc = new BootstrapTokenService({ store, clock: { now: () => 1000 } });
    const created = await svc.create({ siteId: 'plant-a', ttlS: 60, maxUses: 3 }, { actor: 'ops', source: 'test' });
    expect(store.rows[0]).toMatchObject({
      id: created.id,
      tokenHash: hashToken(created.token),
      maxUses: 3,
      expiresAtMs: 61_000,
    });
    expect(JSON.stringify(store.rows)).not.toContain(created.token);
    expect(JSON.stringify(store.audit.entries)).not.toContain(created.token);
    expect(store.audit.entries[0]).toMatchObject({ actor: 'ops', action: 'token.create', target: created.id });
  });

  it('default to 24 hours and one use, and refuse out-of-range requests naming the field', () => {
    expect(validateTokenRequest({ siteId: 'plant-a', ttlS: 0, maxUses: 0 })).toEqual({
      siteId: 'plant-a',
      ttlS: 86_400,
      maxUses: 1,
    });
    const field = (r: Parameters<typeof validateTokenRequest>[0]) => {
      try {
        validateTokenRequest(r);
      } catch (err) {
        return err instanceof InvalidArgumentError ? err.details.field : undefined;
      }
      return undefined;
    };
    expect(field({ siteId: '', ttlS: 0, maxUses: 0 })).toBe('site_id');
    expect(field({ siteId: 'plant-a', ttlS: 31 * 86_400, maxUses: 0 })).toBe('ttl_s');
    expect(field({ siteId: 'plant-a', ttlS: 0, maxUses: 10_001 })).toBe('max_uses');
  });
});
