import { createHash, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpArtifactFetcher } from '@millwright/edge-agent/adapters/http/artifact-download.js';
import { NatsArtifactUrlSource } from '@millwright/edge-agent/adapters/nats/artifact-url.js';
import { connectNats } from '@millwright/edge-agent/adapters/nats/connect.js';
import { decodeSignedPayload, KvDesiredStateSource } from '@millwright/edge-agent/adapters/nats/desired.js';
import { JetStreamStateReporter, PersistedSequence } from '@millwright/edge-agent/adapters/nats/state-reporter.js';
import { createRuntimeRegistry } from '@millwright/edge-agent/inference/registry.js';
import { utf8 } from '@millwright/edge-agent/inference/testkit.js';
import { UpdateManager } from '@millwright/edge-agent/update/manager.js';
import { ModelStore } from '@millwright/edge-agent/update/model-store.js';
import { systemUpdateClock } from '@millwright/edge-agent/update/ports.js';
import { noConditionSource } from '@millwright/edge-agent/update/switch-policy.js';
import { keyIdOf, TrustStore } from '@millwright/edge-agent/update/trust.js';
import {
  AgentStateReport,
  ArtifactUrlRequest,
  ArtifactUrlResponse,
  DesiredState,
  ModelRuntime,
  ModelStatePhase,
  SignedPayload,
  subjects,
} from '@millwright/proto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsServer, waitFor } from '../harness/index.js';

const SITE = 'plant-u';
const AGENT = 'agent-u1';
const WEIGHTS = [0.8, -0.5];
const INTERCEPT = 0.1;
const PADDING = 200_000;
const DROP_AT = 65_536;

/** The control plane's signing key, generated here; its public half is pinned by the agent. */
function signingKey() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  return { privateKey, publicB64: raw.toString('base64'), keyId: keyIdOf(raw) };
}

/** A logistic model artifact (real JSON, padded so a download can be cut in the middle) and its self-test. */
function artifactOf(version: string) {
  const bytes = Buffer.concat([
    utf8({ weights: WEIGHTS, intercept: INTERCEPT, note: version }),
    Buffer.alloc(PADDING, 0x20),
  ]);
  const x = [1.5, 0.5];
  const expected = 1 / (1 + Math.exp(-(INTERCEPT + WEIGHTS[0]! * x[0]! + WEIGHTS[1]! * x[1]!)));
  return { bytes, selfTest: [{ inputs: x, expectedScore: expected, tolerance: 1e-9 }] };
}

function signedPayload(
  version: string,
  sequence: number,
  bytes: Buffer,
  selfTest: ReturnType<typeof artifactOf>['selfTest'],
) {
  return SignedPayload.encode({
    manifest: {
      model: 'press',
      version,
      runtime: ModelRuntime.MODEL_RUNTIME_LOGISTIC,
      inputs: [
        { name: 'rms', unit: 'mm/s' },
        { name: 'temp', unit: 'degC' },
      ],
      output: { meaning: 'p(fault)', alertThreshold: 0.5, uncertainLow: 0.4, uncertainHigh: 0.6, onnxOutput: '' },
      selfTest,
      trainingMetrics: {},
      lineage: undefined,
      reference: [],
      sequence,
      description: '',
    },
    sha256: createHash('sha256').update(bytes).digest('hex'),
    sizeBytes: bytes.length,
    rollback: false,
    rollbackFrom: '',
    signedAtMs: Date.now(),
  }).finish();
}

/** Serves artifacts with Range support; tokens in the query model presigned URLs that expire. */
class ArtifactServer {
  readonly files = new Map<string, Buffer>();
  readonly validTokens = new Set<string>(['fresh']);
  readonly dropOnce = new Set<string>();
  readonly requests: { path: string; status: number; range: string }[] = [];
  private server = http.createServer((req, res) => this.handle(req, res));

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  url(path: string, token: string): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}?token=${token}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const u = new URL(req.url ?? '/', 'http://x');
    const range = req.headers.range ?? '';
    const status = this.statusFor(u, range);
    this.requests.push({ path: u.pathname, status, range });
    if (status !== 200 && status !== 206) return void res.writeHead(status).end();
    const body = this.files.get(u.pathname)!;
    const start = status === 206 ? Number(/bytes=(\d+)-/.exec(range)![1]) : 0;
    const part = body.subarray(start);
    const headers: http.OutgoingHttpHeaders = { 'content-length': part.length };
    if (status === 206) headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
    res.writeHead(status, headers);
    if (this.dropOnce.delete(u.pathname)) {
      res.write(part.subarray(0, DROP_AT), () => res.socket?.destroy());
      return;
    }
    res.end(part);
  }

  private statusFor(u: URL, range: string): number {
    if (!this.validTokens.has(u.searchParams.get('token') ?? '')) return 403;
    const body = this.files.get(u.pathname);
    if (!body) return 404;
    const m = /bytes=(\d+)-/.exec(range);
    if (!m) return 200;
    return Number(m[1]) < body.length ? 206 : 416;
  }
}

describe('model self-update at the edge against real NATS and HTTP', () => {
  let nats: NatsServer;
  let cnc: NatsConnection;
  let anc: NatsConnection;
  let kv: KV;
  let files: ArtifactServer;
  let dataDir: string;
  let manager: UpdateManager | undefined;
  let reporter: JetStreamStateReporter | undefined;
  const key = signingKey();
  const reports: AgentStateReport[] = [];
  let generation = 0;

  function publishVersion(version: string, sequence: number, opts: { corrupt?: boolean } = {}) {
    const { bytes, selfTest } = artifactOf(version);
    const payload = signedPayload(version, sequence, bytes, selfTest);
    const served = Buffer.from(bytes);
    if (opts.corrupt) served[10] = served[10]! ^ 0xff;
    files.files.set(`/artifacts/press/${version}`, served);
    const signature = {
      keyId: key.keyId,
      signature: sign(null, payload, key.privateKey as KeyObject).toString('base64'),
      payload: Buffer.from(payload).toString('base64'),
    };
    return { version, bytes, signature };
  }

  async function putDesired(
    v: ReturnType<typeof publishVersion>,
    opts: { token?: string; unsigned?: boolean } = {},
  ): Promise<number> {
    generation++;
    const desired = DesiredState.encode({
      agentId: AGENT,
      siteId: SITE,
      generation,
      model: {
        model: 'press',
        version: v.version,
        artifactUrl: files.url(`/artifacts/press/${v.version}`, opts.token ?? 'fresh'),
        urlExpiresAtMs: 0,
        sha256: '',
        sizeBytes: v.bytes.length,
        signature: opts.unsigned ? undefined : v.signature,
      },
      shadow: undefined,
      capture: undefined,
      switchPolicy: undefined,
      config: undefined,
      rolloutId: `ro-${generation}`,
      reason: 'test',
      issuedAtMs: Date.now(),
      trust: undefined,
      resignatures: [],
    }).finish();
    await kv.put(subjects.agentKey(SITE, AGENT), desired);
    return generation;
  }

  async function startAgent(): Promise<UpdateManager> {
    const clock = systemUpdateClock;
    const log = pino({ level: 'silent' });
    reporter = new JetStreamStateReporter({
      js: () => jetstream(anc),
      siteId: SITE,
      agentId: AGENT,
      clock,
      seq: new PersistedSequence(join(dataDir, 'update', 'report-seq')),
      timeoutMs: 2000,
      onError: () => undefined,
    });
    const urls = new NatsArtifactUrlSource({ nc: () => anc, siteId: SITE, agentId: AGENT, timeoutMs: 2000 });
    const options = { timeoutMs: 5000, retries: 3, backoffMinMs: 50, backoffMaxMs: 200, maxBytes: 10_000_000 };
    const m = new UpdateManager({
      store: new ModelStore(dataDir),
      trust: TrustStore.fromBase64([key.publicB64]),
      decode: decodeSignedPayload,
      registry: createRuntimeRegistry(),
      fetcher: new HttpArtifactFetcher({ urls, clock, options }),
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
      options: {
        retryBackoffMinMs: 100,
        retryBackoffMaxMs: 500,
        switchCheckMs: 200,
        watchdogDefaultS: 60,
        watchdogMinSamples: 10,
        maxArtifactBytes: 10_000_000,
      },
    });
    await m.start();
    manager = m;
    return m;
  }

  async function stopAgent(): Promise<void> {
    await manager?.stop();
    await reporter?.stop(500);
    manager = undefined;
  }

  const reported = (phase: ModelStatePhase, version: string, gen: number) =>
    waitFor(`${ModelStatePhase[phase]} ${version} (generation ${gen})`, () =>
      reports.find((r) => r.state?.phase === phase && r.state.version === version && r.desiredGeneration === gen),
    );

  beforeAll(async () => {
    nats = await NatsServer.start();
    cnc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
    const jsm = await jetstreamManager(cnc);
    await jsm.streams.add({ name: subjects.STREAMS.state, subjects: [subjects.edge.anyState] });
    kv = await new Kvm(cnc).create(subjects.KV.desired, { history: 16, allow_direct: true });
    cnc.subscribe(subjects.edge.state(SITE, AGENT), {
      callback: (_e, m) => {
        reports.push(AgentStateReport.decode(m.data));
      },
    });
    cnc.subscribe(subjects.edge.artifactUrl(SITE, AGENT), {
      queue: 'cp-url',
      callback: (_e, m) => {
        const req = ArtifactUrlRequest.decode(m.data);
        const url = files.url(`/artifacts/${req.model}/${req.version}`, 'fresh');
        m.respond(ArtifactUrlResponse.encode({ url, expiresAtMs: Date.now() + 60_000, error: '' }).finish());
      },
    });
    files = new ArtifactServer();
    await files.start();
    dataDir = await mkdtemp(join(tmpdir(), 'mw-update-int-'));
    anc = await connectNats({ url: nats.url, agentId: AGENT });
  });

  afterAll(async () => {
    await stopAgent();
    await anc?.close();
    await cnc?.close();
    await files?.stop();
    await nats?.dispose();
  });

  it('downloads with a refreshed URL, resumes a cut download, verifies, self-tests and reports ACTIVE', async () => {
    const m = await startAgent();
    const v1 = publishVersion('1.0.0', 1);
    files.dropOnce.add('/artifacts/press/1.0.0');
    const gen = await putDesired(v1, { token: 'expired' });
    await reported(ModelStatePhase.MODEL_STATE_PHASE_ACTIVE, '1.0.0', gen);
    expect(m.slots.activeVersion()).toBe('1.0.0');
    const score = m.slots.active()!.score(Float64Array.of(1.5, 0.5)).score;
    expect(score).toBeCloseTo(artifactOf('1.0.0').selfTest[0]!.expectedScore, 12);
    const got = files.requests.filter((r) => r.path === '/artifacts/press/1.0.0');
    expect(got.map((r) => r.status)).toEqual([403, 200, 206]);
    // Resumed from what arrived before the cut (at most what the server wrote), not from zero.
    const resumedAt = Number(/bytes=(\d+)-/.exec(got[2]!.range)![1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(DROP_AT);
    const phases = reports.filter((r) => r.desiredGeneration === gen).map((r) => r.state?.phase);
    expect(phases).toEqual([
      ModelStatePhase.MODEL_STATE_PHASE_DOWNLOADING,
      ModelStatePhase.MODEL_STATE_PHASE_VERIFYING,
      ModelStatePhase.MODEL_STATE_PHASE_SELF_TESTING,
      ModelStatePhase.MODEL_STATE_PHASE_ACTIVE,
    ]);
  });

  it('refuses a corrupt artifact and an unsigned one with FAILED reports and keeps its model', async () => {
    const m = manager!;
    const corrupt = publishVersion('2.0.0', 2, { corrupt: true });
    const g1 = await putDesired(corrupt);
    const failed = await reported(ModelStatePhase.MODEL_STATE_PHASE_FAILED, '2.0.0', g1);
    expect(failed.state?.reason).toMatch(/sha256 .* differs from the signed/);
    expect(failed.previousVersion).toBe('1.0.0');
    const unsigned = publishVersion('2.0.1', 3);
    const g2 = await putDesired(unsigned, { unsigned: true });
    const refused = await reported(ModelStatePhase.MODEL_STATE_PHASE_FAILED, '2.0.1', g2);
    expect(refused.state?.reason).toBe('artifact is not signed');
    expect(files.requests.some((r) => r.path === '/artifacts/press/2.0.1')).toBe(false);
    expect(m.slots.activeVersion()).toBe('1.0.0');
  });

  it('keeps its model with NATS down, restarts offline from disk, and converges to the latest desired state', async () => {
    await nats.stop();
    await stopAgent();
    const offline = await startAgent();
    expect(offline.slots.activeVersion()).toBe('1.0.0');
    expect(offline.slots.active()!.score(Float64Array.of(1.5, 0.5)).decision).toBe('alert');
    await nats.restart();
    await waitFor('control connection back', () => (cnc.isClosed() ? undefined : kv.status().then(() => true)));
    const v4 = publishVersion('4.0.0', 5);
    await putDesired(publishVersion('3.0.0', 4));
    const last = await putDesired(v4);
    await reported(ModelStatePhase.MODEL_STATE_PHASE_ACTIVE, '4.0.0', last);
    expect(offline.slots.activeVersion()).toBe('4.0.0');
    expect(offline.slots.previous()?.manifest.version).toBe('1.0.0');
    const seqs = reports.map((r) => r.reportSeq);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(Math.max(...seqs)).toBe(reports.at(-1)!.reportSeq);
  });
});
