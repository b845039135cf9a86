import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NatsEnrollClient, nkeyUserKeys } from '@millwright/edge-agent/adapters/nats/enroll.js';
import type { EnrollRequestData } from '@millwright/edge-agent/enroll/ports.js';
import { DeadLetter, subjects } from '@millwright/proto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BIN,
  type ControlPlaneProcess,
  ManagedProcess,
  mwctl,
  NatsServer,
  PostgresServer,
  sleep,
  spawnAgent,
  spawnControlPlane,
  waitFor,
} from '../harness/index.js';

interface HistoryJson {
  atMs: number;
  health: string;
  event: string;
}

const FAST_HEALTH = {
  MW_HEALTH_STALE_AFTER_S: '1',
  MW_HEALTH_OFFLINE_AFTER_S: '2',
  MW_HEALTH_SWEEP_INTERVAL_S: '0.2',
  MW_LEADER_RETRY_S: '0.5',
  MW_INGEST_HEARTBEAT_FLUSH_MS: '100',
};

async function ctl(cp: ControlPlaneProcess, ...args: string[]) {
  // The audit actor is the authenticated token's name (the harness's bootstrap admin token).
  return mwctl([...args, '--server', cp.grpcAddr]);
}

async function ctlJson<T>(cp: ControlPlaneProcess, ...args: string[]): Promise<T> {
  const res = await ctl(cp, ...args, '--json');
  if (res.code !== 0) throw new Error(`mwctl ${args.join(' ')} exited ${res.code}: ${res.stderr}`);
  return JSON.parse(res.stdout) as T;
}

async function metric(cp: ControlPlaneProcess, pattern: RegExp): Promise<number | undefined> {
  const text = await (await fetch(`${cp.httpUrl}/metrics`)).text();
  const m = text.match(pattern);
  return m ? Number(m[1]) : undefined;
}

const events = (entries: HistoryJson[]) => entries.map((e) => e.event);

describe('fleet registry: sites, enrollment, decommissioning and the health timeline', () => {
  let nats: NatsServer;
  let pg: PostgresServer;
  let dbUrl: string;
  let cp: ControlPlaneProcess;
  let nc: NatsConnection;
  const agents: ManagedProcess[] = [];

  beforeAll(async () => {
    [nats, pg] = await Promise.all([NatsServer.start(), PostgresServer.start()]);
    dbUrl = await pg.createDatabase();
    cp = await spawnControlPlane({
      MW_DATABASE_URL: dbUrl,
      MW_NATS_URL: nats.url,
      MW_FLEET_AUTO_REGISTER: 'false',
      ...FAST_HEALTH,
    });
    nc = await connect({ servers: nats.url, inboxPrefix: subjects.inboxPrefix('fleet-test') });
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await nc?.close();
    await cp?.proc.stop();
    await Promise.all([nats?.dispose(), pg?.dispose()]);
  });

  const tokenFor = async (site: string, ...extra: string[]) =>
    ctlJson<{ tokenId: string; token: string }>(cp, 'tokens', 'create', '--site', site, ...extra);

  const enrollDirect = (req: Partial<EnrollRequestData> & { bootstrapToken: string }) =>
    new NatsEnrollClient({ url: nats.url, agentId: 'direct' }).enroll(
      {
        siteId: 'plant-a',
        agentId: 'direct-01',
        lineId: '',
        labels: {},
        nkeyPublic: nkeyUserKeys.create().publicKey,
        agentVersion: 'test',
        ...req,
      },
      5000,
    );

  async function enrolledAgent(id: string, token: string): Promise<{ proc: ManagedProcess; dataDir: string }> {
    const dataDir = await mkdtemp(join(tmpdir(), `mw-${id}-`));
    const tokenFile = join(dataDir, 'token');
    await writeFile(tokenFile, `${token}\n`);
    const proc = await spawnAgent({
      MW_AGENT_ID: id,
      MW_SITE_ID: 'plant-a',
      MW_LINE_ID: 'L1',
      MW_DATA_DIR: dataDir,
      MW_NATS_URL: nats.url,
      MW_HEARTBEAT_INTERVAL_S: '0.3',
      MW_ENROLL_BOOTSTRAP_TOKEN_FILE: tokenFile,
    });
    agents.push(proc);
    return { proc, dataDir };
  }

  const healthOf = async (id: string) => (await ctlJson<{ health: string }>(cp, 'fleet', 'get', id)).health;

  it('creates, updates, reads and lists sites, naming invalid fields', async () => {
    const created = await ctlJson<{ id: string; timeZone: string }>(
      cp,
      ...['sites', 'create', 'plant-a', '--name', 'Plant A', '--tz', 'Europe/Berlin', '--line', 'L1=Press line'],
      ...['--window', '0 2 * * SUN for 2h'],
    );
    expect(created).toMatchObject({ id: 'plant-a', timeZone: 'Europe/Berlin' });
    const dup = await ctl(cp, 'sites', 'create', 'plant-a');
    expect(dup.code).toBe(7);
    expect(dup.stderr).toMatch(/ALREADY_EXISTS/);
    const badTz = await ctl(cp, 'sites', 'update', 'plant-a', '--tz', 'Mars/Base');
    expect(badTz.code).toBe(4);
    expect(badTz.stderr).toMatch(/field: site\.time_zone/);
    const badCron = await ctl(cp, 'sites', 'update', 'plant-a', '--window', '0 25 * * * for 1h');
    expect(badCron.stderr).toMatch(/field: site\.maintenance_windows\[0\]\.cron/);
    await ctlJson(cp, 'sites', 'update', 'plant-a', '--name', 'Plant A (north)');
    const site = await ctlJson<Record<string, unknown>>(cp, 'sites', 'get', 'plant-a');
    expect(site).toMatchObject({
      displayName: 'Plant A (north)',
      timeZone: 'Europe/Berlin',
      lines: [{ id: 'L1', displayName: 'Press line' }],
      maintenanceWindows: [{ cron: '0 2 * * SUN', durationS: 7200 }],
    });
    await ctlJson(cp, 'sites', 'create', 'plant-b', '--tz', 'America/Chicago');
    const list = await ctlJson<{ id: string }[]>(cp, 'sites', 'ls');
    expect(list.map((s) => s.id)).toEqual(['plant-a', 'plant-b']);
    expect((await ctl(cp, 'sites', 'get', 'nowhere')).code).toBe(3);
  });

  it('enrols an agent with a site token and accepts its heartbeats with auto-registration off', async () => {
    const { token } = await tokenFor('plant-a');
    const { proc, dataDir } = await enrolledAgent('press-01', token);
    await waitFor('press-01 online', async () => ((await healthOf('press-01')) === 'online' ? true : undefined));
    expect(await ctlJson(cp, 'fleet', 'get', 'press-01')).toMatchObject({ siteId: 'plant-a', lineId: 'L1' });
    const identity = JSON.parse(await readFile(join(dataDir, 'identity', 'identity.json'), 'utf8'));
    expect(identity).toMatchObject({ agentId: 'press-01', siteId: 'plant-a', trustKeys: [] });
    expect((await stat(join(dataDir, 'identity', 'nkey.seed'))).mode & 0o777).toBe(0o600);

    await proc.stop();
    await proc.start();
    await proc.waitForOutput(/agent\.ready/);
    expect(proc.stdout).not.toMatch(/agent\.enrolled/);
    await waitFor('a restart in the timeline', async () => {
      const h = await ctlJson<HistoryJson[]>(cp, 'fleet', 'history', 'press-01');
      return events(h).includes('restart') ? h : undefined;
    });
    // The announce and the first online transition are written by different components in either order.
    const first = events(await ctlJson<HistoryJson[]>(cp, 'fleet', 'history', 'press-01')).slice(0, 3);
    expect(first[0]).toBe('enrolled');
    expect(first.slice(1).sort()).toEqual(['announce', 'health.online']);
  });

  it('dead-letters heartbeats of agents that never enrolled', async () => {
    const dlq = nc.subscribe(subjects.dlq.forCode('unknown_agent'));
    agents.push(await spawnAgent({ MW_AGENT_ID: 'rogue-01', MW_SITE_ID: 'plant-a', MW_NATS_URL: nats.url }));
    for await (const m of dlq) {
      if (DeadLetter.decode(m.data).agentId === 'rogue-01') break;
    }
    expect((await ctl(cp, 'fleet', 'get', 'rogue-01')).code).toBe(3);
  });

  it('refuses expired, revoked, used-up, wrong-site and unknown tokens, and counts the refusals', async () => {
    const used = await tokenFor('plant-a');
    expect(await enrollDirect({ bootstrapToken: used.token, agentId: 'u-1' })).toMatchObject({ ok: true });
    expect(await enrollDirect({ bootstrapToken: used.token, agentId: 'u-2' })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^token_used_up/),
    });
    const revoked = await tokenFor('plant-a', '--max-uses', '5');
    expect((await ctl(cp, 'tokens', 'revoke', revoked.tokenId)).code).toBe(0);
    expect(await enrollDirect({ bootstrapToken: revoked.token })).toMatchObject({
      error: expect.stringMatching(/^token_revoked/),
    });
    const otherSite = await tokenFor('plant-b');
    expect(await enrollDirect({ bootstrapToken: otherSite.token })).toMatchObject({
      error: expect.stringMatching(/^wrong_site/),
    });
    expect(await enrollDirect({ bootstrapToken: 'mwbt_made_up' })).toMatchObject({
      error: expect.stringMatching(/^invalid_token/),
    });
    const shortLived = await tokenFor('plant-a', '--ttl', '1s');
    await sleep(1500);
    expect(await enrollDirect({ bootstrapToken: shortLived.token })).toMatchObject({
      error: expect.stringMatching(/^token_expired/),
    });
    for (const code of ['token_used_up', 'token_revoked', 'wrong_site', 'invalid_token', 'token_expired']) {
      expect(await metric(cp, new RegExp(`mw_enrollments_total\\{outcome="${code}"\\} (\\d+)`))).toBe(1);
    }
    expect((await ctl(cp, 'tokens', 'revoke', 'bt_nope')).code).toBe(3);
  });

  it('stops an agent whose enrollment is refused with exit code 3 and the reason', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'mw-refused-'));
    await writeFile(join(dataDir, 'token'), 'mwbt_wrong');
    const proc = new ManagedProcess({
      name: 'refused-agent',
      command: process.execPath,
      args: [BIN.agent],
      env: {
        PATH: process.env.PATH ?? '',
        MW_AGENT_ID: 'refused-01',
        MW_SITE_ID: 'plant-a',
        MW_DATA_DIR: dataDir,
        MW_HTTP_PORT: '0',
        MW_NATS_URL: nats.url,
        MW_ENROLL_BOOTSTRAP_TOKEN_FILE: join(dataDir, 'token'),
      },
      logFile: join(dataDir, 'agent.log'),
    });
    await proc.start();
    const code = await waitFor('the refused agent to exit', () => proc.exitCode ?? undefined);
    expect(code).toBe(3);
    expect(proc.stdout).toMatch(/enrollment refused by the control plane: invalid_token/);
  });

  it('answers a re-enrollment with the same key idempotently and refuses another key', async () => {
    const { token } = await tokenFor('plant-a');
    const keys = nkeyUserKeys.create();
    const first = await enrollDirect({ bootstrapToken: token, agentId: 'pump-07', nkeyPublic: keys.publicKey });
    const again = await enrollDirect({ bootstrapToken: token, agentId: 'pump-07', nkeyPublic: keys.publicKey });
    expect(first).toEqual({ ok: true, agentId: 'pump-07', siteId: 'plant-a', natsUserJwt: '', trustKeys: [] });
    expect(again).toEqual(first);
    const other = await enrollDirect({ bootstrapToken: token, agentId: 'pump-07' });
    expect(other).toMatchObject({ ok: false, error: expect.stringMatching(/^agent_exists/) });
  });

  it('decommissions an agent with an audit entry; its later heartbeats are dead-lettered', async () => {
    const dlq = nc.subscribe(subjects.dlq.forCode('decommissioned'));
    expect((await ctl(cp, 'fleet', 'decommission', 'press-01')).code).toBe(2);
    const agent = await ctlJson<{ health: string }>(cp, 'fleet', 'decommission', 'press-01', '--reason', 'scrapped');
    expect(agent.health).toBe('decommissioned');
    for await (const m of dlq) {
      if (DeadLetter.decode(m.data).agentId === 'press-01') break;
    }
    expect(await healthOf('press-01')).toBe('decommissioned');
    expect(events(await ctlJson<HistoryJson[]>(cp, 'fleet', 'history', 'press-01')).at(-1)).toBe('decommissioned');
    expect((await ctl(cp, 'fleet', 'pin', 'press-01')).code).toBe(7);
    const sql = postgres(dbUrl, { max: 1 });
    try {
      const rows =
        await sql`select actor, reason from audit_log where action = 'agent.decommission' and target = 'press-01'`;
      expect(rows).toEqual([{ actor: 'bootstrap-admin', reason: 'scrapped' }]);
    } finally {
      await sql.end();
    }
  });

  it('pins and unpins an agent', async () => {
    expect(await ctlJson(cp, 'fleet', 'pin', 'pump-07', '--reason', 'trial')).toMatchObject({ pinned: true });
    expect(await ctlJson(cp, 'fleet', 'unpin', 'pump-07')).toMatchObject({ pinned: false });
    expect(events(await ctlJson<HistoryJson[]>(cp, 'fleet', 'history', 'pump-07')).slice(-2)).toEqual([
      'pinned',
      'unpinned',
    ]);
  });

  it('records online, stale and offline in the timeline after an agent is killed', async () => {
    const { token } = await tokenFor('plant-a');
    const { proc } = await enrolledAgent('press-03', token);
    await waitFor('press-03 online', async () => ((await healthOf('press-03')) === 'online' ? true : undefined));
    await proc.kill();
    const history = await waitFor('press-03 offline in the timeline', async () => {
      const h = await ctlJson<HistoryJson[]>(cp, 'fleet', 'history', 'press-03');
      return events(h).includes('health.offline') ? h : undefined;
    });
    const health = history.filter((e) => e.event.startsWith('health.'));
    expect(health.map((e) => e.health)).toEqual(['online', 'stale', 'offline']);
    expect(health.map((e) => e.atMs)).toEqual([...health.map((e) => e.atMs)].sort((a, b) => a - b));
  });
});

describe('health sweeper leadership across two replicas', () => {
  let nats: NatsServer;
  let pg: PostgresServer;
  const replicas: ControlPlaneProcess[] = [];
  let agent: ManagedProcess;

  beforeAll(async () => {
    [nats, pg] = await Promise.all([NatsServer.start(), PostgresServer.start()]);
    const env = { MW_DATABASE_URL: await pg.createDatabase(), MW_NATS_URL: nats.url, ...FAST_HEALTH };
    replicas.push(await spawnControlPlane(env, 'cp-1'), await spawnControlPlane(env, 'cp-2'));
    agent = await spawnAgent({
      MW_AGENT_ID: 'mill-01',
      MW_SITE_ID: 'plant-c',
      MW_NATS_URL: nats.url,
      MW_HEARTBEAT_INTERVAL_S: '0.3',
    });
  });

  afterAll(async () => {
    await agent?.stop();
    await Promise.all(replicas.map((r) => r.proc.stop()));
    await Promise.all([nats?.dispose(), pg?.dispose()]);
  });

  const isLeader = (cp: ControlPlaneProcess) => metric(cp, /mw_leader\{lock="fleet_sweeper"\} (\d+)/);
  const sweeps = (cp: ControlPlaneProcess) => metric(cp, /mw_fleet_sweeps_total (\d+)/);

  it('lets only the leader sweep, and hands over when the leader dies', async () => {
    const [leader, follower] = await waitFor('one leader', async () => {
      const flags = await Promise.all(replicas.map(isLeader));
      if (flags[0] === 1 && flags[1] === 0) return [replicas[0]!, replicas[1]!];
      if (flags[0] === 0 && flags[1] === 1) return [replicas[1]!, replicas[0]!];
      return undefined;
    });
    const before = (await sweeps(leader))!;
    await waitFor('the leader to sweep again', async () => ((await sweeps(leader))! > before ? true : undefined));
    expect(await sweeps(follower)).toBe(0);

    await leader.proc.kill();
    await waitFor('the follower to take over', async () => ((await isLeader(follower)) === 1 ? true : undefined));
    await waitFor('the new leader to sweep', async () => ((await sweeps(follower))! > 0 ? true : undefined));
    await agent.kill();
    const history = await waitFor('mill-01 offline in the timeline', async () => {
      const res = await mwctl(['fleet', 'history', 'mill-01', '--json', '--server', follower.grpcAddr]);
      const h = JSON.parse(res.stdout) as HistoryJson[];
      return events(h).includes('health.offline') ? h : undefined;
    });
    const health = events(history).filter((e) => e.startsWith('health.'));
    // An auto-registered agent starts online with its announce; the sweeper records what follows.
    expect(events(history)[0]).toBe('announce');
    expect(health.slice(-2)).toEqual(['health.stale', 'health.offline']);
  });
});
