import { afterAll, describe, expect, it } from 'vitest';
import {
  type ControlPlaneProcess,
  freePort,
  type ManagedProcess,
  mwctl,
  NatsServer,
  PostgresServer,
  spawnAgent,
  spawnControlPlane,
  waitFor,
} from '../harness/index.js';

describe('an agent booted while the plant network is down', () => {
  let agent: ManagedProcess | undefined;
  let nats: NatsServer | undefined;
  let pg: PostgresServer | undefined;
  let cp: ControlPlaneProcess | undefined;

  afterAll(async () => {
    await agent?.stop();
    await cp?.proc.stop();
    await Promise.all([nats?.dispose(), pg?.dispose()]);
  });

  it('starts and ingests without the broker, then joins the fleet when the network returns', async () => {
    const natsPort = await freePort();
    const httpPort = await freePort();
    agent = await spawnAgent({
      MW_AGENT_ID: 'offline-1',
      MW_SITE_ID: 'plant-a',
      MW_NATS_URL: `nats://127.0.0.1:${natsPort}`,
      MW_HTTP_PORT: String(httpPort),
      MW_HEARTBEAT_INTERVAL_S: '0.5',
      MW_REPORTS_INTERVAL_S: '0.5',
      MW_SOURCES: JSON.stringify([{ type: 'simulator', id: 'sim', seed: 1 }]),
    });
    // Local work goes on offline: cleaning reports accumulate in the durable buffer, unsent.
    const offline = await waitFor('records buffered offline', async () => {
      const s = (await (await fetch(`http://127.0.0.1:${httpPort}/status`)).json()) as {
        buffer: { headSeq: number; unsent: number };
      };
      return s.buffer.headSeq >= 3 ? s : undefined;
    });
    expect(offline.buffer.unsent).toBe(offline.buffer.headSeq);

    [nats, pg] = await Promise.all([NatsServer.start({ port: natsPort }), PostgresServer.start()]);
    cp = await spawnControlPlane({ MW_DATABASE_URL: await pg.createDatabase(), MW_NATS_URL: nats.url });
    await waitFor(
      'the agent online through mwctl',
      async () => {
        const res = await mwctl(['fleet', 'get', 'offline-1', '--json', '--server', cp!.grpcAddr]);
        return res.code === 0 && (JSON.parse(res.stdout) as { health: string }).health === 'online' ? true : undefined;
      },
      30_000,
    );
  });
});
