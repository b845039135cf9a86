/**
 * In-process simulated agents. One KV watch over all of `mw_desired` (wildcard `>`) dispatches each
 * value to its agent by key: 1,000 or 100,000 watches in one process would measure the client, not
 * the rollout. `full` agents do what a real agent's update path does up to ACTIVE, with the real
 * edge-agent functions: verify the ed25519 signature and decode the signed release
 * (verifySignedRelease), refuse a downgrade unless signed as a rollback (checkAntiRollback),
 * download the presigned URL, hash while streaming and check sha256 + size (checkDigest). Loading and
 * self-testing the model is left out (the registry already ran the self-test at push).
 * `report` agents only answer with an ACTIVE report.
 */
import { createHash } from 'node:crypto';
import { decodeSignedPayload, desiredFromProto } from '@millwright/edge-agent/adapters/nats/desired.js';
import type { TrustStore } from '@millwright/edge-agent/update/trust.js';
import type { DesiredArtifact } from '@millwright/edge-agent/update/types.js';
import {
  checkAntiRollback,
  checkDigest,
  type RunningVersion,
  verifySignedRelease,
} from '@millwright/edge-agent/update/verify.js';
import { AgentStateReport, DesiredState, ModelStatePhase, SignedPayload, subjects } from '@millwright/proto';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { SimAgent } from './fleet.js';

type Phase = 'downloading' | 'verifying' | 'active' | 'failed';
const PHASES: Record<Phase, ModelStatePhase> = {
  downloading: ModelStatePhase.MODEL_STATE_PHASE_DOWNLOADING,
  verifying: ModelStatePhase.MODEL_STATE_PHASE_VERIFYING,
  active: ModelStatePhase.MODEL_STATE_PHASE_ACTIVE,
  failed: ModelStatePhase.MODEL_STATE_PHASE_FAILED,
};

interface AgentSim extends SimAgent {
  seq: number;
  generation: number;
  running: RunningVersion | undefined;
}

/** What the watcher last saw per key: enough to tell a signed rollback. */
export interface SeenDesired {
  atMs: number;
  version: string;
  rollback: boolean;
}

export interface SimCounters {
  desiredSeen: number;
  firstDesiredMs: number;
  lastDesiredMs: number;
  downloads: number;
  downloadedBytes: number;
  downloadMs: number;
  failures: number;
  reports: number;
  activeReports: number;
  lastActiveMs: number;
  publishErrors: number;
}

const zero = (): SimCounters => ({
  desiredSeen: 0,
  firstDesiredMs: 0,
  lastDesiredMs: 0,
  downloads: 0,
  downloadedBytes: 0,
  downloadMs: 0,
  failures: 0,
  reports: 0,
  activeReports: 0,
  lastActiveMs: 0,
  publishErrors: 0,
});

/** Bounded number of JetStream publishes in flight (an agent's report waits for its ack too). */
class Publisher {
  private readonly queue: { subject: string; data: Uint8Array; msgID: string; done: () => void }[] = [];
  private running = 0;

  constructor(
    private readonly js: JetStreamClient,
    private readonly inFlight: number,
    private readonly onError: () => void,
  ) {}

  publish(subject: string, data: Uint8Array, msgID: string): Promise<void> {
    return new Promise((done) => {
      this.queue.push({ subject, data, msgID, done });
      if (this.running < this.inFlight) void this.pump();
    });
  }

  private async pump(): Promise<void> {
    this.running++;
    for (let m = this.queue.shift(); m; m = this.queue.shift()) {
      for (;;) {
        try {
          await this.js.publish(m.subject, m.data, { msgID: m.msgID, timeout: 30_000 });
          break;
        } catch {
          this.onError();
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      m.done();
    }
    this.running--;
  }
}

/** Counting semaphore for downloads. */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  constructor(n: number) {
    this.free = n;
  }
  async take(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((r) => this.waiting.push(r));
  }
  give(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

export interface SimFleetDeps {
  kv: KV;
  js: JetStreamClient;
  trust: TrustStore;
  mode: 'full' | 'report';
  agents: readonly SimAgent[];
  /** Concurrent downloads (full mode). */
  downloads: number;
  /** Report publishes awaiting their ack at once. */
  publishInFlight: number;
  /** Running version every agent starts with (the registry sequence does not matter to anti-rollback here). */
  initial?: RunningVersion;
  log: (msg: string) => void;
}

export class SimFleet {
  counters: SimCounters = zero();
  /** Latest desired value per KV key, as the watcher saw it. */
  readonly seen = new Map<string, SeenDesired>();
  private readonly byKey = new Map<string, AgentSim>();
  private readonly publisher: Publisher;
  private readonly slots: Slots;
  private stopWatch: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private errorsLogged = 0;

  constructor(private readonly deps: SimFleetDeps) {
    for (const a of deps.agents)
      this.byKey.set(subjects.agentKey(a.siteId, a.id), { ...a, seq: 0, generation: 0, running: deps.initial });
    this.publisher = new Publisher(deps.js, deps.publishInFlight, () => this.counters.publishErrors++);
    this.slots = new Slots(deps.downloads);
  }

  /** Starts the one wildcard watch; only new values count (the bucket may hold older ones). */
  async start(): Promise<void> {
    const watch = await this.deps.kv.watch({ key: '>', ignoreDeletes: true, include: 'updates' });
    this.stopWatch = () => watch.stop();
    this.loop = (async () => {
      for await (const e of watch) {
        if (e.operation !== 'PUT' || e.value.length === 0) continue;
        const agent = this.byKey.get(e.key);
        if (agent) this.onDesired(agent, e.key, DesiredState.decode(e.value));
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopWatch?.();
    await this.loop;
  }

  /** Returns the counters since the last call and starts new ones. */
  takeCounters(): SimCounters {
    const c = this.counters;
    this.counters = zero();
    return c;
  }

  private onDesired(agent: AgentSim, key: string, d: DesiredState): void {
    const now = Date.now();
    const c = this.counters;
    c.desiredSeen++;
    c.firstDesiredMs ||= now;
    c.lastDesiredMs = now;
    const rollback = d.model?.signature?.payload
      ? SignedPayload.decode(Buffer.from(d.model.signature.payload, 'base64')).rollback
      : false;
    this.seen.set(key, { atMs: now, version: d.model?.version ?? '', rollback });
    if (d.generation <= agent.generation) return;
    agent.generation = d.generation;
    const want = desiredFromProto(d);
    if (!want.model) return;
    if (this.deps.mode === 'report' || agent.running?.version === want.model.version) {
      void this.report(agent, d, 'active', want.model.version, 'switched');
      return;
    }
    void this.update(agent, d, want.model);
  }

  private async update(agent: AgentSim, d: DesiredState, a: DesiredArtifact): Promise<void> {
    await this.slots.take();
    try {
      if (agent.generation !== d.generation) return; // superseded while queued
      const release = verifySignedRelease(this.deps.trust, decodeSignedPayload, a);
      checkAntiRollback(release, agent.running);
      void this.report(agent, d, 'downloading', a.version, `downloading ${release.sizeBytes} bytes`);
      const got = await this.download(a.url, release.sizeBytes);
      checkDigest(release, got);
      const previous = agent.running?.version ?? '';
      agent.running = { model: a.model, version: a.version, sequence: release.manifest.sequence };
      await this.report(agent, d, 'active', a.version, 'switched', previous);
    } catch (err) {
      this.counters.failures++;
      if (this.errorsLogged++ < 5) this.deps.log(`agent ${agent.id}: ${(err as Error).message}`);
      void this.report(agent, d, 'failed', a.version, (err as Error).message);
    } finally {
      this.slots.give();
    }
  }

  /** Streams the body through sha256, as the agent's digest of the downloaded file would. */
  private async download(url: string, expected: number): Promise<{ sha256: string; size: number }> {
    const started = performance.now();
    const res = await fetch(url);
    if (!res.ok || !res.body) throw new Error(`download failed: HTTP ${res.status}`);
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      size += chunk.length;
      if (size > expected) throw new Error(`server sent more than the signed ${expected} bytes`);
      hash.update(chunk);
    }
    this.counters.downloads++;
    this.counters.downloadedBytes += size;
    this.counters.downloadMs += performance.now() - started;
    return { sha256: hash.digest('hex'), size };
  }

  private async report(
    agent: AgentSim,
    d: DesiredState,
    phase: Phase,
    version: string,
    reason: string,
    previousVersion = agent.running?.version ?? '',
  ): Promise<void> {
    const reportSeq = ++agent.seq;
    const atMs = Date.now();
    const msg = AgentStateReport.encode({
      agentId: agent.id,
      siteId: agent.siteId,
      reportSeq,
      state: { phase: PHASES[phase], version, reason, sinceMs: atMs },
      desiredGeneration: d.generation,
      rolloutId: d.rolloutId,
      previousVersion,
      atMs,
      configGeneration: 0,
      configError: '',
    }).finish();
    await this.publisher.publish(subjects.edge.state(agent.siteId, agent.id), msg, `${agent.id}:state:${reportSeq}`);
    this.counters.reports++;
    if (phase === 'active') {
      this.counters.activeReports++;
      this.counters.lastActiveMs = Date.now();
    }
  }
}
