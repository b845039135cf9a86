import {
  AdminServiceService,
  FleetServiceService,
  ModelRegistryServiceService,
  RetrainingServiceService,
  RolloutServiceService,
} from '@millwright/proto';
import { describe, expect, it } from 'vitest';
import { ApiTokenService, AuthenticationError, hashApiToken } from './api-tokens.js';
import { MemoryApiTokenStore } from './memory-store.js';
import { METHOD_ROLES, methodKey, minimumRole, roleAllows } from './roles.js';

describe('role table', () => {
  it('classifies every method of every service, and nothing that does not exist', () => {
    const paths = [
      AdminServiceService,
      FleetServiceService,
      ModelRegistryServiceService,
      RolloutServiceService,
      RetrainingServiceService,
    ].flatMap((svc) => Object.values(svc).map((d) => (d as { path: string }).path));
    expect(paths.filter((p) => minimumRole(p) === undefined)).toEqual([]);
    expect(Object.keys(METHOD_ROLES).sort()).toEqual(paths.map(methodKey).sort());
  });

  it('orders roles admin > platform > trainer > viewer and denies unknown methods', () => {
    expect(roleAllows('platform', 'trainer')).toBe(true);
    expect(roleAllows('trainer', 'platform')).toBe(false);
    expect(roleAllows('viewer', 'admin')).toBe(false);
    expect(minimumRole('/millwright.v1.FleetService/NoSuchMethod')).toBeUndefined();
    expect(minimumRole('/millwright.v1.RolloutService/Promote')).toBe('platform');
  });
});

describe('API tokens', () => {
  const make = (now = 1_000_000) => {
    const store = new MemoryApiTokenStore();
    return { store, svc: new ApiTokenService({ store, now: () => now }) };
  };
  const caller = { actor: 'root', source: '127.0.0.1:1', actorRole: 'admin' };

  it('stores only the hash, shows the secret once and authenticates it', async () => {
    const { store, svc } = make();
    const { token, secret } = await svc.create({ name: 'ci', role: 'trainer', ttlS: 0 }, caller);
    expect(JSON.stringify([...store.tokens.values()])).not.toContain(secret);
    expect(token.tokenHash).toBe(hashApiToken(secret));
    expect(await svc.authenticate(secret)).toEqual({ tokenId: token.id, name: 'ci', role: 'trainer' });
    expect(store.audit[0]).toMatchObject({ action: 'api_token.create', actor: 'root', actorRole: 'admin' });
  });

  it.each([
    [undefined, 'missing_token'],
    ['Bearer', 'malformed_token'],
    [`mwt_${'x'.repeat(43)}`, 'unknown_token'],
  ])('refuses %s as %s', async (secret, reason) => {
    const { svc } = make();
    await expect(svc.authenticate(secret)).rejects.toMatchObject({ reason });
  });

  it('refuses revoked and expired tokens', async () => {
    const store = new MemoryApiTokenStore();
    let now = 1_000_000;
    const svc = new ApiTokenService({ store, now: () => now });
    const a = await svc.create({ name: 'a', role: 'viewer', ttlS: 60 }, caller);
    const b = await svc.create({ name: 'b', role: 'viewer', ttlS: 0 }, caller);
    await svc.revoke(b.token.id, caller);
    await expect(svc.authenticate(b.secret)).rejects.toMatchObject({ reason: 'revoked_token' });
    now += 60_000;
    const err = await svc.authenticate(a.secret).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect(err).toMatchObject({ reason: 'expired_token', code: 'UNAUTHENTICATED' });
  });

  it('creates the bootstrap admin once and refuses a weak one', async () => {
    const { svc } = make();
    const secret = `mwt_${'k'.repeat(40)}`;
    expect(await svc.ensureBootstrapAdmin(secret)).toBe(true);
    expect(await svc.ensureBootstrapAdmin(secret)).toBe(false);
    expect((await svc.authenticate(secret)).role).toBe('admin');
    await expect(svc.ensureBootstrapAdmin('password')).rejects.toMatchObject({ code: 'INVALID' });
  });

  it('validates name, role and ttl', async () => {
    const { svc } = make();
    await expect(svc.create({ name: 'a b', role: 'viewer', ttlS: 0 }, caller)).rejects.toMatchObject({
      details: { field: 'name' },
    });
    await expect(svc.create({ name: 'a', role: 'root', ttlS: 0 }, caller)).rejects.toMatchObject({
      details: { field: 'role' },
    });
    await expect(svc.create({ name: 'a', role: 'viewer', ttlS: -1 }, caller)).rejects.toMatchObject({
      details: { field: 'ttl_s' },
    });
  });
});
