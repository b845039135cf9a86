import { insecure as createInsecure } from '@millwright/control-plane/cli/client.js';
import {
  AdminServiceClient,
  CreateSiteRequest,
  FleetServiceClient,
  ListAgentsRequest,
  ListAuditEventsRequest,
  ListModelsRequest,
  ModelRegistryServiceClient,
  RolloutActionRequest,
  RolloutServiceClient,
  SetAliasRequest,
} from '@millwright/proto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ControlPlaneProcess,
  mwctl,
  NatsServer,
  PostgresServer,
  spawnControlPlane,
  waitFor,
} from '../harness/index.js';
import { createToken, metric, Role, status, statusOf } from './support.js';

const noFilter = ListAgentsRequest.fromPartial({});
const firstPage = ListModelsRequest.fromPartial({});
const alias = SetAliasRequest.fromPartial({ model: 'pump', alias: 'prod', version: '1', reason: 'r' });

describe('gRPC API: bearer tokens, roles and the audit log against the real control plane', () => {
  let nats: NatsServer;
  let pg: PostgresServer;
  let dbUrl: string;
  let cp: ControlPlaneProcess;
  let fleet: FleetServiceClient;
  let admin: AdminServiceClient;
  let models: ModelRegistryServiceClient;
  let rollouts: RolloutServiceClient;
  let viewer: string;
  let trainer: string;

  beforeAll(async () => {
    [nats, pg] = await Promise.all([NatsServer.start(), PostgresServer.start()]);
    dbUrl = await pg.createDatabase();
    cp = await spawnControlPlane({ MW_DATABASE_URL: dbUrl, MW_NATS_URL: nats.url });
    const insecure = createInsecure();
    fleet = new FleetServiceClient(cp.grpcAddr, insecure);
    admin = new AdminServiceClient(cp.grpcAddr, insecure);
    models = new ModelRegistryServiceClient(cp.grpcAddr, insecure);
    rollouts = new RolloutServiceClient(cp.grpcAddr, insecure);
    viewer = await createToken(cp.grpcAddr, cp.adminToken, 'vera', Role.ROLE_VIEWER);
    trainer = await createToken(cp.grpcAddr, cp.adminToken, 'tom', Role.ROLE_TRAINER);
  }, 120_000);

  afterAll(async () => {
    for (const c of [fleet, admin, models, rollouts]) c?.close();
    await cp?.proc.stop();
    await Promise.all([nats?.dispose(), pg?.dispose()]);
  });

  it('refuses every call without a token or with a made-up token as UNAUTHENTICATED, and counts each', async () => {
    const before = await metric(cp.httpUrl, 'mw_auth_failures_total', { reason: 'missing_token' });
    const beforeUnknown = await metric(cp.httpUrl, 'mw_auth_failures_total', { reason: 'unknown_token' });
    expect((await statusOf(fleet, fleet.listAgents, noFilter)).code).toBe(status.UNAUTHENTICATED);
    expect((await statusOf(admin, admin.whoAmI, {})).code).toBe(status.UNAUTHENTICATED);
    expect((await statusOf(models, models.listModels, firstPage)).code).toBe(status.UNAUTHENTICATED);
    const forged = `mwt_${'A'.repeat(43)}`;
    expect((await statusOf(fleet, fleet.listAgents, noFilter, forged)).code).toBe(status.UNAUTHENTICATED);
    expect((await statusOf(fleet, fleet.listAgents, noFilter, 'not-even-a-token')).code).toBe(status.UNAUTHENTICATED);
    expect(await metric(cp.httpUrl, 'mw_auth_failures_total', { reason: 'missing_token' })).toBe(before + 3);
    expect(await metric(cp.httpUrl, 'mw_auth_failures_total', { reason: 'unknown_token' })).toBe(beforeUnknown + 1);
    await waitFor(
      'auth.denied in the log',
      async () =>
        /"reason":"missing_token".*"auth\.denied"|auth\.denied.*missing_token/.test(cp.proc.stdout) || undefined,
    );
  });

  it('lets a viewer read but refuses it admin and platform RPCs with PERMISSION_DENIED', async () => {
    expect((await statusOf(fleet, fleet.listAgents, noFilter, viewer)).code).toBe(status.OK);
    const me = await statusOf(admin, admin.whoAmI, {}, viewer);
    expect(me.res).toEqual({ actor: 'vera', role: Role.ROLE_VIEWER });
    const before = await metric(cp.httpUrl, 'mw_auth_failures_total', { reason: 'permission_denied' });
    const denied = [
      await statusOf(admin, admin.createApiToken, { name: 'evil', role: Role.ROLE_ADMIN, ttlS: 0 }, viewer),
      await statusOf(admin, admin.listAuditEvents, ListAuditEventsRequest.fromPartial({}), viewer),
      await statusOf(admin, admin.listApiTokens, {}, viewer),
      await statusOf(fleet, fleet.createBootstrapToken, { siteId: 's1', ttlS: 0, maxUses: 0 }, viewer),
      await statusOf(fleet, fleet.decommissionAgent, { id: 'x', reason: 'r' }, viewer),
      await statusOf(fleet, fleet.createSite, CreateSiteRequest.fromPartial({ site: { id: 's1' } }), viewer),
      await statusOf(models, models.setAlias, alias, viewer),
      await statusOf(models, models.createModel, { name: 'm', description: '' }, viewer),
      await statusOf(rollouts, rollouts.promote, RolloutActionRequest.fromPartial({ id: 'r1' }), viewer),
      await statusOf(rollouts, rollouts.rollback, RolloutActionRequest.fromPartial({ id: 'r1' }), viewer),
    ];
    expect(denied.map((d) => d.code)).toEqual(denied.map(() => status.PERMISSION_DENIED));
    expect(await metric(cp.httpUrl, 'mw_auth_failures_total', { reason: 'permission_denied' })).toBe(
      before + denied.length,
    );
  });

  it('lets a trainer register models but not move aliases or decommission agents', async () => {
    expect((await statusOf(models, models.createModel, { name: 'pump', description: '' }, trainer)).code).toBe(
      status.OK,
    );
    expect((await statusOf(models, models.setAlias, alias, trainer)).code).toBe(status.PERMISSION_DENIED);
    expect((await statusOf(fleet, fleet.decommissionAgent, { id: 'x', reason: 'r' }, trainer)).code).toBe(
      status.PERMISSION_DENIED,
    );
  });

  it('audits who did what from where, including refused attempts, and ListAuditEvents returns it to admins', async () => {
    const site = await mwctl(['sites', 'create', 'plant-z', '--server', cp.grpcAddr]);
    expect(site.code, site.stderr).toBe(0);
    const res = await mwctl(['audit', 'ls', '--json', '--server', cp.grpcAddr]);
    expect(res.code, res.stderr).toBe(0);
    const events = JSON.parse(res.stdout) as {
      actor: string;
      action: string;
      target: string;
      source: string;
      actorRole: number;
    }[];
    const create = events.find((e) => e.action === 'site.create' && e.target === 'plant-z');
    expect(create).toMatchObject({ actor: 'bootstrap-admin', actorRole: Role.ROLE_ADMIN });
    expect(create?.source).toMatch(/127\.0\.0\.1/);
    expect(events.find((e) => e.action === 'api_token.create')).toMatchObject({ actor: 'bootstrap-admin' });
    const refused = events.filter((e) => e.action === 'auth.denied' && e.actor === 'vera');
    expect(refused.map((e) => e.target)).toContain('AdminService/CreateApiToken');
    const onlyVera = await mwctl(['audit', 'ls', '--json', '--actor', 'vera', '--server', cp.grpcAddr]);
    const veraEvents = JSON.parse(onlyVera.stdout) as { actor: string }[];
    expect(veraEvents.length).toBeGreaterThan(0);
    expect(new Set(veraEvents.map((e) => e.actor))).toEqual(new Set(['vera']));
  });

  it('stores only token hashes, and a revoked token stops working at once', async () => {
    const created = await mwctl([
      'tokens-api',
      'create',
      'ci-bot',
      '--role',
      'trainer',
      '--json',
      '--server',
      cp.grpcAddr,
    ]);
    expect(created.code, created.stderr).toBe(0);
    const { token, secret } = JSON.parse(created.stdout) as { token: { id: string }; secret: string };
    expect((await statusOf(models, models.listModels, firstPage, secret)).code).toBe(status.OK);
    const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
    try {
      const rows = await sql<{ token_hash: string }[]>`select token_hash from api_tokens`;
      expect(rows.length).toBeGreaterThanOrEqual(4);
      for (const r of rows) expect(r.token_hash).toMatch(/^[0-9a-f]{64}$/);
      const dump = JSON.stringify(await sql`select * from api_tokens`);
      expect(dump).not.toContain(secret);
      expect(dump).not.toContain(cp.adminToken);
    } finally {
      await sql.end();
    }
    const revoked = await mwctl(['tokens-api', 'revoke', token.id, '--server', cp.grpcAddr]);
    expect(revoked.code, revoked.stderr).toBe(0);
    const after = await statusOf(models, models.listModels, firstPage, secret);
    expect(after.code).toBe(status.UNAUTHENTICATED);
    expect(after.details).toContain('revoked');
    const ls = await mwctl(['tokens-api', 'ls', '--json', '--server', cp.grpcAddr]);
    expect((JSON.parse(ls.stdout) as { id: string; revoked: boolean }[]).find((t) => t.id === token.id)?.revoked).toBe(
      true,
    );
  });

  it('mwctl without a token exits with the denied code', async () => {
    const res = await mwctl(['fleet', 'ls', '--server', cp.grpcAddr], { MW_TOKEN: '' });
    expect(res.code).toBe(6);
    expect(res.stderr).toContain('UNAUTHENTICATED');
  });

  it('never writes a token secret into the control plane log', async () => {
    const log = cp.proc.stdout;
    expect(log.length).toBeGreaterThan(0);
    expect(log).not.toContain(cp.adminToken);
    expect(log).not.toContain(viewer);
    expect(log).not.toContain(trainer);
  });
});
