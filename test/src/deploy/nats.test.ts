import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureTopology, streamConfigs } from '@millwright/control-plane/adapters/nats/topology.js';
import { Heartbeat, subjects } from '@millwright/proto';
import { type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { type ConnectionOptions, connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type ManagedProcess, spawnAgent, waitFor } from '../harness/index.js';
import { type GeneratedAuth, generateAuth } from './nats-auth.js';
import {
  checkConfig,
  type HubNodePorts,
  hubPorts,
  materializeHub,
  materializeLeaf,
  startNats,
} from './nats-topology.js';
import { type Certs, deployPath, makeCerts, readDeploy, substitute } from './support.js';

const SHIPPED: HubNodePorts = { client: 4222, cluster: 6222, leaf: 7422, http: 8222 };
const AGENT = { site: 'plant-a', id: 'agent-1' };

let work: string;
let certs: Certs;
let auth: GeneratedAuth;
const leafEnv = () => ({ NATS_MILLWRIGHT_ACCOUNT: auth.accountPublicKey });

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mw-deploy-nats-'));
  certs = await makeCerts(await mkdtemp(join(work, 'tls-')));
  auth = await generateAuth(join(work, 'auth'), AGENT);
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function connectWith(servers: string | string[], creds: string, name: string): Promise<NatsConnection> {
  const opts: ConnectionOptions = {
    servers,
    tls: { caFile: certs.ca },
    authenticator: credsAuthenticator(await readFile(creds)),
    inboxPrefix: subjects.inboxPrefix(name),
    name,
  };
  return connect(opts);
}

describe('NATS configs parse with nats-server -t', () => {
  it('accepts each of the three hub server configs with the shipped ports', async () => {
    // Only TLS, auth and store paths and the route host names are redirected.
    // Route ports differ per node only because the server refuses duplicate routes.
    const nodes = [0, 1, 2].map((i) => ({ ...SHIPPED, cluster: SHIPPED.cluster + i }));
    const files = await materializeHub(join(work, 'parse-hub'), certs.dir, auth.dir, nodes);
    expect(files).toHaveLength(3);
    for (const file of files) expect(await checkConfig(file, {})).toMatch(/is valid/);
  });

  it('accepts the plant leaf-node config', async () => {
    const file = await materializeLeaf(join(work, 'parse-leaf'), certs.dir, auth.dir, 4222, 7422);
    expect(await checkConfig(file, leafEnv())).toMatch(/is valid/);
  });

  it('accepts the compose single-node config as shipped (it needs no files)', async () => {
    expect(await checkConfig(deployPath('compose/nats/nats.conf'), {})).toMatch(/is valid/);
  });

  it('rejects the leaf config when the account variable is missing from the environment', async () => {
    const file = await materializeLeaf(join(work, 'parse-noenv'), certs.dir, auth.dir, 4222, 7422);
    await expect(checkConfig(file, {})).rejects.toThrow(/NATS_MILLWRIGHT_ACCOUNT/);
  });
});

describe('a plant leaf node joined to the three-node hub relays an agent to the hub streams', () => {
  const procs: ManagedProcess[] = [];
  let ports: HubNodePorts[];
  let leafPort: number;
  let hub: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    ports = await hubPorts(3);
    const files = await materializeHub(join(work, 'cluster'), certs.dir, auth.dir, ports);
    procs.push(...(await Promise.all(files.map((f, i) => startNats(`nats-${i + 1}`, f, {})))));
    hub = await connectWith(
      ports.map((p) => `tls://127.0.0.1:${p.client}`),
      auth.creds.controlPlane,
      'cp-deploy-test',
    );
    // JetStream answers once the three servers have elected a meta leader.
    jsm = await waitFor(
      'JetStream meta leader',
      async () => {
        const m = await jetstreamManager(hub, { timeout: 2000 });
        await m.getAccountInfo();
        return m;
      },
      30_000,
      250,
    );
    // The control plane's own topology code, with a cluster's replication factor.
    await ensureTopology(hub, jsm, 3);

    leafPort = await freePort();
    const leafFile = await materializeLeaf(join(work, 'leaf'), certs.dir, auth.dir, leafPort, ports[1]!.leaf);
    const leaf = await startNats('plant-leaf', leafFile, leafEnv());
    procs.push(leaf);
    await leaf.waitForOutput(/Leafnode connection created/, 20_000);
  }, 90_000);

  afterAll(async () => {
    await hub?.close();
    await Promise.all(procs.reverse().map((p) => p.stop()));
  });

  const leafUrl = () => `tls://127.0.0.1:${leafPort}`;

  it('runs every Millwright stream with three replicas across the hub', async () => {
    for (const cfg of streamConfigs(3)) {
      const info = await jsm.streams.info(cfg.name);
      expect(info.config.num_replicas).toBe(3);
      expect(info.cluster?.replicas?.length).toBe(2);
    }
  });

  it("stores the real mw-agent's heartbeat, sent through the leaf with its own creds, in the hub's MW_HEARTBEATS", async () => {
    const agent = await spawnAgent({
      MW_AGENT_ID: AGENT.id,
      MW_SITE_ID: AGENT.site,
      MW_NATS_URL: leafUrl(),
      MW_NATS_CREDS_FILE: auth.creds.agent,
      MW_HEARTBEAT_INTERVAL_S: '0.5',
      NODE_EXTRA_CA_CERTS: certs.ca,
    });
    try {
      const subject = subjects.edge.heartbeat(AGENT.site, AGENT.id);
      const msg = await waitFor(
        'heartbeat in MW_HEARTBEATS',
        async () => (await jsm.streams.getMessage(subjects.STREAMS.heartbeats, { last_by_subj: subject })) ?? undefined,
        20_000,
        200,
      );
      const hb = Heartbeat.decode(msg.data);
      expect(hb.agentId).toBe(AGENT.id);
      expect(hb.siteId).toBe(AGENT.site);
    } finally {
      await agent.stop();
    }
  });

  it('acknowledges a record batch published on the leaf from the hub domain, and deduplicates a re-send', async () => {
    const nc = await connectWith(leafUrl(), auth.creds.plantClient, 'plant-client');
    try {
      const js = jetstream(nc, { timeout: 5000 });
      const subject = subjects.edge.records('plant-a', 'agent-2');
      const id = subjects.batchMsgId('agent-2', 1, 10);
      const ack = await js.publish(subject, new Uint8Array([1, 2, 3]), { msgID: id });
      const again = await js.publish(subject, new Uint8Array([1, 2, 3]), { msgID: id });
      expect(ack.stream).toBe(subjects.STREAMS.records);
      expect(ack.domain).toBe('hub');
      expect(again.duplicate).toBe(true);
      const stored = await jsm.streams.getMessage(subjects.STREAMS.records, { last_by_subj: subject });
      expect(stored?.seq).toBe(ack.seq);
      expect([...(stored?.data ?? [])]).toEqual([1, 2, 3]);
    } finally {
      await nc.close();
    }
  });

  it("lets a client on the leaf read its desired state from the hub's KV bucket (the JetStream API crosses)", async () => {
    const key = subjects.agentKey('plant-a', 'agent-3');
    await (await new Kvm(hub).open(subjects.KV.desired)).put(key, 'v7');
    const nc = await connectWith(leafUrl(), auth.creds.plantClient, 'plant-client-kv');
    try {
      const kv = await new Kvm(nc).open(subjects.KV.desired);
      expect((await kv.get(key))?.string()).toBe('v7');
    } finally {
      await nc.close();
    }
  });

  it('needs default_js_domain: without it the leaf denies the JetStream API to its clients', async () => {
    const port = await freePort();
    const file = await materializeLeaf(join(work, 'leaf-nodomain'), certs.dir, auth.dir, port, ports[2]!.leaf);
    const plantConf = join(work, 'leaf-nodomain', 'auth', 'plant.conf');
    await writeFile(plantConf, substitute(await readFile(plantConf, 'utf8'), /^default_js_domain:.*$/gm, ''));
    const leaf = await startNats('plant-leaf-nodomain', file, leafEnv());
    procs.push(leaf);
    await leaf.waitForOutput(/JetStream Not Extended/, 20_000);
    const nc = await connectWith(`tls://127.0.0.1:${port}`, auth.creds.plantClient, 'plant-client-nodomain');
    try {
      await expect(jetstreamManager(nc, { timeout: 1500 })).rejects.toThrow();
    } finally {
      await nc.close();
      await leaf.stop();
    }
  });
});

describe('deploy/nats documents what the code does', () => {
  it('documents every stream the control plane creates with its replication factor', () => {
    const doc = readDeploy('nats/README.md');
    for (const cfg of streamConfigs(3)) expect(doc).toContain(cfg.name);
    expect(doc).toContain('MW_NATS_REPLICAS');
  });
});
