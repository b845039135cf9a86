import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ControlPlaneProcess,
  type ManagedProcess,
  mwctl,
  NatsServer,
  PostgresServer,
  spawnAgent,
  spawnControlPlane,
  waitFor,
} from '../harness/index.js';

interface AgentJson {
  id: string;
  siteId: string;
  health: string;
  labels: Record<string, string>;
  agentVersion: string;
}

describe('first slice: agents announce over NATS, the control plane records them, mwctl shows them', () => {
  let nats: NatsServer;
  let pg: PostgresServer;
  let cp: ControlPlaneProcess;
  const agents: ManagedProcess[] = [];

  beforeAll(async () => {
    [nats, pg] = await Promise.all([NatsServer.start(), PostgresServer.start()]);
    cp = await spawnControlPlane({
      MW_DATABASE_URL: await pg.createDatabase(),
      MW_NATS_URL: nats.url,
      MW_HEALTH_STALE_AFTER_S: '2',
      // A wide stale window: each mwctl poll is a process start, slow on a loaded 2-core machine.
      MW_HEALTH_OFFLINE_AFTER_S: '10',
      MW_INGEST_HEARTBEAT_FLUSH_MS: '100',
    });
    for (const [id, line] of [
      ['press-01', 'L1'],
      ['press-02', 'L2'],
    ] as const) {
      agents.push(
        await spawnAgent({
          MW_AGENT_ID: id,
          MW_SITE_ID: 'plant-a',
          MW_LINE_ID: line,
          MW_LABELS: JSON.stringify({ machine_type: 'press', hardware: 'rpi4' }),
          MW_NATS_URL: nats.url,
          MW_HEARTBEAT_INTERVAL_S: '0.5',
        }),
      );
    }
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await cp?.proc.stop();
    await Promise.all([nats?.dispose(), pg?.dispose()]);
  });

  const ls = async (...extra: string[]): Promise<AgentJson[]> => {
    const res = await mwctl(['fleet', 'ls', '--json', '--server', cp.grpcAddr, ...extra]);
    if (res.code !== 0) throw new Error(`mwctl exited ${res.code}: ${res.stderr}`);
    return JSON.parse(res.stdout) as AgentJson[];
  };

  it('shows both agents online with their site, labels and version', async () => {
    const online = await waitFor('two online agents', async () => {
      const list = await ls('--health', 'online');
      return list.length === 2 ? list : undefined;
    });
    expect(online.map((a) => a.id)).toEqual(['press-01', 'press-02']);
    expect(online[0]).toMatchObject({ siteId: 'plant-a', labels: { machine_type: 'press', hardware: 'rpi4' } });
    expect(online[0]!.agentVersion).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('filters by label and prints a table for humans', async () => {
    expect(await ls('--label', 'machine_type=pump')).toEqual([]);
    const res = await mwctl(['fleet', 'ls', '--server', cp.grpcAddr]);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/press-01\s.*plant-a\s.*online/);
  });

  it('gets one agent and exits 3 for an unknown one', async () => {
    const res = await mwctl(['fleet', 'get', 'press-02', '--json', '--server', cp.grpcAddr]);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ id: 'press-02', lineId: 'L2', health: 'online' });
    const missing = await mwctl(['fleet', 'get', 'nope', '--server', cp.grpcAddr]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/NOT_FOUND/);
  });

  it('sees a killed agent go stale, then offline, while the other stays online', async () => {
    await agents[0]!.kill();
    await waitFor(
      'press-01 stale',
      async () => ((await ls('--health', 'stale')).some((a) => a.id === 'press-01') ? true : undefined),
      30_000,
    );
    await waitFor(
      'press-01 offline',
      async () => ((await ls('--health', 'offline')).some((a) => a.id === 'press-01') ? true : undefined),
      30_000,
    );
    expect((await ls('--health', 'online')).map((a) => a.id)).toEqual(['press-02']);
  });
});
