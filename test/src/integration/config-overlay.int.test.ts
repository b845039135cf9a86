import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HttpArtifactFetcher } from '@millwright/edge-agent/adapters/http/artifact-download.js';
import { connectNats } from '@millwright/edge-agent/adapters/nats/connect.js';
import { decodeSignedPayload, KvDesiredStateSource } from '@millwright/edge-agent/adapters/nats/desired.js';
import { JetStreamStateReporter, PersistedSequence } from '@millwright/edge-agent/adapters/nats/state-reporter.js';
import { ConfigOverlayApplier } from '@millwright/edge-agent/config-overlay/applier.js';
import { createRuntimeRegistry } from '@millwright/edge-agent/inference/registry.js';
import { UpdateManager } from '@millwright/edge-agent/update/manager.js';
import { ModelStore } from '@millwright/edge-agent/update/model-store.js';
import { systemUpdateClock } from '@millwright/edge-agent/update/ports.js';
import { noConditionSource } from '@millwright/edge-agent/update/switch-policy.js';
import { TrustStore } from '@millwright/edge-agent/update/trust.js';
import { AgentStateReport, DesiredState, ModelStatePhase, subjects } from '@millwright/proto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsServer, waitFor } from '../harness/index.js';

const SITE = 'plant-c';
const AGENT = 'agent-c1';
const log = pino({ level: 'silent' });
const CAPTURE = {
  enabled: true,
  uncertain: false,
  alerts: true,
  randomRate: 0.1,
  aroundLabelS: 30,
  includeRaw: false,
  includeFeatures: true,
  maxSamplesPerHour: 20,
  maxBytesPerHour: 0,
};

/** No model is ever desired here, so nothing is downloaded. */
const noFetch = {
  fetch: () => Promise.reject(new Error('no download expected')),
} as unknown as HttpArtifactFetcher;

describe('desired-state config overlay at the edge against real NATS', () => {
  let nats: NatsServer;
  let cnc: NatsConnection;
  let anc: NatsConnection;
  let kv: KV;
  let dataDir: string;
  let agent: { manager: UpdateManager; overlay: ConfigOverlayApplier; reporter: JetStreamStateReporter } | undefined;
  const reports: AgentStateReport[] = [];

  async function putDesired(
    generation: number,
    config: Record<string, unknown> | undefined,
    capture?: DesiredState['capture'],
  ): Promise<void> {
    const desired = DesiredState.fromPartial({
      agentId: AGENT,
      siteId: SITE,
      generation,
      config,
      capture,
      rolloutId: 'cfg',
    });
    await kv.put(subjects.agentKey(SITE, AGENT), DesiredState.encode(desired).finish());
  }

  async function startAgent() {
    const clock = systemUpdateClock;
    const overlay = new ConfigOverlayApplier({
      base: { dataDir, alerts: { holdOffS: 600, resolveAfterNormal: 5 } },
      log,
    });
    await overlay.load();
    const reporter = new JetStreamStateReporter({
      js: () => jetstream(anc),
      siteId: SITE,
      agentId: AGENT,
      clock,
      seq: new PersistedSequence(join(dataDir, 'update', 'report-seq')),
      timeoutMs: 2000,
      onError: () => undefined,
    });
    const manager = new UpdateManager({
      store: new ModelStore(dataDir),
      trust: TrustStore.fromBase64([]),
      decode: decodeSignedPayload,
      registry: createRuntimeRegistry(),
      fetcher: noFetch,
      clock,
      log,
      random: Math.random,
      desired: new KvDesiredStateSource({
        nc: () => anc,
        siteId: SITE,
        agentId: AGENT,
        retryMs: 200,
        onInvalid: () => undefined,
        onError: () => undefined,
      }),
      reporter,
      conditions: noConditionSource,
      config: overlay,
      options: {
        retryBackoffMinMs: 100,
        retryBackoffMaxMs: 500,
        switchCheckMs: 200,
        watchdogDefaultS: 60,
        watchdogMinSamples: 10,
        maxArtifactBytes: 1_000_000,
      },
    });
    await manager.start();
    agent = { manager, overlay, reporter };
    return agent;
  }

  async function stopAgent(): Promise<void> {
    await agent?.manager.stop();
    await agent?.reporter.stop(500);
    agent = undefined;
  }

  const reported = (phase: ModelStatePhase, gen: number) =>
    waitFor(`${ModelStatePhase[phase]} (generation ${gen})`, () =>
      reports.find((r) => r.state?.phase === phase && r.desiredGeneration === gen),
    );

  beforeAll(async () => {
    nats = await NatsServer.start();
    cnc = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(cnc);
    await jsm.streams.add({ name: subjects.STREAMS.state, subjects: [subjects.edge.anyState] });
    kv = await new Kvm(cnc).create(subjects.KV.desired, { history: 16, allow_direct: true });
    cnc.subscribe(subjects.edge.state(SITE, AGENT), {
      callback: (_e, m) => {
        reports.push(AgentStateReport.decode(m.data));
      },
    });
    dataDir = await mkdtemp(join(tmpdir(), 'mw-config-int-'));
    anc = await connectNats({ url: nats.url, agentId: AGENT });
  });

  afterAll(async () => {
    await stopAgent();
    await anc?.close();
    await cnc?.close();
    await nats?.dispose();
  });

  it('applies the config and capture policy from KV and reports its generation as config_generation', async () => {
    const { overlay } = await startAgent();
    await putDesired(
      1,
      { alerts: { holdOffS: 45, resolveAfterNormal: 3 }, cleaning: { defaults: { hampel: { k: 9 } } } },
      CAPTURE,
    );
    const r = await reported(ModelStatePhase.MODEL_STATE_PHASE_IDLE, 1);
    expect(r.configGeneration).toBe(1);
    expect(overlay.current().alerts).toEqual({ holdOffS: 45, resolveAfterNormal: 3 });
    expect(overlay.current().cleaning.defaults.hampel?.k).toBe(9);
    expect(overlay.current().capturePolicy).toEqual(CAPTURE);
  });

  it('refuses an invalid config with a FAILED report and keeps the previous one', async () => {
    await putDesired(2, { alerts: { holdOffS: 'soon' } });
    const r = await reported(ModelStatePhase.MODEL_STATE_PHASE_FAILED, 2);
    expect(r.state?.reason).toMatch(/^config refused: config alerts\.holdOffS: /);
    expect(r.configGeneration).toBe(1);
    expect(agent!.overlay.current().alerts.holdOffS).toBe(45);
  });

  it('refuses a key that cannot be hot-applied, naming it, and keeps the previous capture policy', async () => {
    await putDesired(3, { buffer: { dir: '/elsewhere' } }, { ...CAPTURE, enabled: false });
    const r = await reported(ModelStatePhase.MODEL_STATE_PHASE_FAILED, 3);
    expect(r.state?.reason).toMatch(/^config refused: config key buffer is not hot-reloadable/);
    expect(r.configGeneration).toBe(1);
    expect(agent!.overlay.current().capturePolicy).toEqual(CAPTURE);
  });

  it('keeps the applied config after a restart with NATS down', async () => {
    await stopAgent();
    await nats.stop();
    const { overlay } = await startAgent();
    expect(overlay.generation()).toBe(1);
    expect(overlay.current().alerts).toEqual({ holdOffS: 45, resolveAfterNormal: 3 });
    expect(overlay.current().capturePolicy).toEqual(CAPTURE);
  });
});
