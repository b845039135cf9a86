import { createHash, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AgentStateReport,
  DesiredState,
  ModelRuntime,
  ModelStatePhase,
  SignedPayload,
  subjects,
  type TrustBundle,
  TrustBundlePayload,
} from '@millwright/proto';
import { jetstreamManager } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ManagedProcess, NatsServer, spawnAgent, waitFor } from '../harness/index.js';

const SITE = 'plant-t';
const AGENT = 't1';
const SLOW = 60_000;
const BUNDLE_CONTEXT = Buffer.from('millwright.v1.TrustBundle\n', 'ascii');

/** A control-plane signing key, generated here. */
function signingKey() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  const keyId = createHash('sha256').update(raw).digest('hex').slice(0, 16);
  return { privateKey: privateKey as KeyObject, publicKey: raw.toString('base64'), keyId };
}
type Key = ReturnType<typeof signingKey>;

/**
 * The agent's update path after key changes, with the real `mw-agent` process: desired states are written
 * straight into its KV key (as the control plane would) and artifacts served over HTTP, so every case
 * (stale bundle, revoked fallback, refused config, lost trust state) is set up exactly.
 */
describe('the real agent after key changes and a lost trust state', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let kv: KV;
  let agent: ManagedProcess;
  let agentEnv: Record<string, string>;
  let dataDir: string;
  let server: http.Server;
  const files = new Map<string, Buffer>();
  const reports: AgentStateReport[] = [];
  const [first, second] = [signingKey(), signingKey()];
  let generation = 0;

  function version(v: string, sequence: number, by: Key) {
    const bytes = Buffer.from(JSON.stringify({ weights: [1], intercept: sequence / 10 }));
    files.set(`/press/${v}`, bytes);
    const payload = SignedPayload.encode(
      SignedPayload.fromPartial({
        manifest: {
          model: 'press',
          version: v,
          runtime: ModelRuntime.MODEL_RUNTIME_LINEAR,
          inputs: [{ name: 'vib_h.rms', unit: 'g' }],
          output: { meaning: 'wear index', alertThreshold: 1000 },
          selfTest: [{ inputs: [1], expectedScore: 1 + sequence / 10, tolerance: 1e-9 }],
          sequence,
        },
        sha256: createHash('sha256').update(bytes).digest('hex'),
        sizeBytes: bytes.length,
      }),
    ).finish();
    const port = (server.address() as AddressInfo).port;
    return {
      model: 'press',
      version: v,
      artifactUrl: `http://127.0.0.1:${port}/press/${v}`,
      urlExpiresAtMs: Date.now() + 3_600_000,
      sha256: '',
      sizeBytes: bytes.length,
      signature: {
        keyId: by.keyId,
        signature: sign(null, payload, by.privateKey).toString('base64'),
        payload: Buffer.from(payload).toString('base64'),
      },
    };
  }

  function bundle(sequence: number, keys: Key[], revoked: Key[], signers: Key[]): TrustBundle {
    const payload = TrustBundlePayload.encode(
      TrustBundlePayload.fromPartial({
        sequence,
        keys: keys.map((k) => ({ keyId: k.keyId, publicKey: k.publicKey })),
        revokedKeyIds: revoked.map((k) => k.keyId),
        issuedAtMs: Date.now(),
      }),
    ).finish();
    const message = Buffer.concat([BUNDLE_CONTEXT, payload]);
    const signatures = signers.map((s) => ({ keyId: s.keyId, signature: sign(null, message, s.privateKey) }));
    return { payload: Buffer.from(payload), signatures };
  }

  async function desire(d: Partial<DesiredState>): Promise<number> {
    generation++;
    const state = DesiredState.fromPartial({ agentId: AGENT, siteId: SITE, rolloutId: 'r1', ...d, generation });
    await kv.put(subjects.agentKey(SITE, AGENT), DesiredState.encode(state).finish());
    return generation;
  }

  const reported = (gen: number, phase: ModelStatePhase, version: string) =>
    waitFor(
      `${ModelStatePhase[phase]} ${version} for generation ${gen}`,
      () => reports.find((r) => r.desiredGeneration === gen && r.state?.phase === phase && r.state.version === version),
      SLOW,
    );

  beforeAll(async () => {
    nats = await NatsServer.start();
    nc = await connect({ servers: nats.url, inboxPrefix: subjects.inboxPrefix('agent-trust-test') });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: subjects.STREAMS.state, subjects: [subjects.edge.anyState] });
    kv = await new Kvm(nc).create(subjects.KV.desired, { history: 16, allow_direct: true });
    nc.subscribe(subjects.edge.state(SITE, AGENT), {
      callback: (_e, m) => {
        reports.push(AgentStateReport.decode(m.data));
      },
    });
    server = http.createServer((req, res) => {
      const body = files.get(req.url ?? '');
      if (!body) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    dataDir = await mkdtemp(join(tmpdir(), `mw-${AGENT}-`));
    agentEnv = {
      MW_AGENT_ID: AGENT,
      MW_SITE_ID: SITE,
      MW_LINE_ID: 'L1',
      MW_NATS_URL: nats.url,
      MW_DATA_DIR: dataDir,
      MW_TRUST_KEYS: JSON.stringify([first.publicKey]),
      MW_HEARTBEAT_INTERVAL_S: '0.5',
      MW_UPDATE_SWITCH_CHECK_S: '1',
      MW_FEATURES_VIBRATION_WINDOW_SIZE: '256',
      MW_SOURCES: JSON.stringify([
        {
          type: 'simulator',
          id: 'sim',
          seed: 7,
          assets: [{ name: 'pump1', vibrationRateHz: 2560, bearingFault: null, spikes: null }],
        },
      ]),
    };
    agent = await spawnAgent(agentEnv, AGENT);
  }, 120_000);

  afterAll(async () => {
    await agent?.stop();
    await nc?.close();
    await new Promise((r) => server?.close(r));
    await nats?.dispose();
  }, 60_000);

  const v2 = () => version('2.0.0', 2, second);
  // Like the control plane's, each bundle is issued once (signed by every key held) and then resent as is.
  let rotation: TrustBundle;
  let revocation: TrustBundle;
  const revoking = () => {
    revocation ??= bundle(2, [second], [first], [second, first]);
    return revocation;
  };

  it('drops the fallback signed only by a revoked key and ignores a stale bundle', async () => {
    await reported(
      await desire({ model: version('1.0.0', 1, first) }),
      ModelStatePhase.MODEL_STATE_PHASE_ACTIVE,
      '1.0.0',
    );
    rotation = bundle(1, [first, second], [], [first, second]);
    await reported(await desire({ model: v2(), trust: rotation }), ModelStatePhase.MODEL_STATE_PHASE_ACTIVE, '2.0.0');

    await reported(await desire({ model: v2(), trust: revoking() }), ModelStatePhase.MODEL_STATE_PHASE_ACTIVE, '2.0.0');
    await agent.waitForOutput(/"version":"1\.0\.0"[^\n]*update\.fallback\.dropped/, SLOW);

    const gen = await desire({ model: v2(), trust: rotation });
    const stale = await reported(gen, ModelStatePhase.MODEL_STATE_PHASE_ACTIVE, '2.0.0');
    expect(stale.state?.reason).toBe('already active');
    await agent.waitForOutput(/"sequence":1,"held":2,[^\n]*trust\.bundle\.stale_ignored/, SLOW);
  }, 180_000);

  it('takes the model of a desired state whose config is refused and reports the refusal in config_error', async () => {
    const config = { alerts: { colour: 'red' } };
    const gen = await desire({ model: version('3.0.0', 3, second), trust: revoking(), config });
    const r = await reported(gen, ModelStatePhase.MODEL_STATE_PHASE_ACTIVE, '3.0.0');
    expect(r.configError).toMatch(/alerts\.colour/);
    expect(Number(r.configGeneration)).toBeLessThan(gen);
  }, 120_000);

  it('refuses installs after a restart with an unreadable trust.json until the bundle comes again', async () => {
    await agent.stop();
    await writeFile(join(dataDir, 'trust', 'trust.json'), '{"format": 1, "sequ');
    // Written while the agent is down: the first desired state it sees carries no bundle to recover with.
    const v4 = version('4.0.0', 4, second);
    const gen = await desire({ model: v4 });
    agent = await spawnAgent(agentEnv, AGENT);
    await agent.waitForOutput(/trust\.state\.unreadable/, SLOW);
    await agent.waitForOutput(/"version":"3\.0\.0"[^\n]*update\.restored/, SLOW);
    const refused = await reported(gen, ModelStatePhase.MODEL_STATE_PHASE_FAILED, '4.0.0');
    expect(refused.state?.reason).toMatch(/^trust state unreadable .*refusing model installs and switches/);

    await reported(await desire({ model: v4, trust: revoking() }), ModelStatePhase.MODEL_STATE_PHASE_ACTIVE, '4.0.0');
    await agent.waitForOutput(/trust\.state\.recovered/, SLOW);
    // The revocation survived the lost trust.json: a version signed by the revoked key is refused.
    const old = await reported(
      await desire({ model: version('5.0.0', 5, first), trust: revoking() }),
      ModelStatePhase.MODEL_STATE_PHASE_FAILED,
      '5.0.0',
    );
    expect(old.state?.reason).toMatch(new RegExp(`revoked key ${first.keyId}`));
  }, 180_000);
});
