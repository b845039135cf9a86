/**
 * Simulated agents. One KV watch over all of `mw_desired` (wildcard `>`) dispatches each value to
 * its agent by key: 1,000 or 100,000 watches would measure the client, not the rollout.
 * - `full` agents each run the real edge-agent update use case (./agent.ts): signature,
 *   anti-rollback, download by presigned URL to disk, sha256 + size, install, load, self-test,
 *   switch, and the real state reporter. They live in worker threads (./sim-worker.ts).
 * - `report` agents (100,000) only answer with an ACTIVE report, from this thread.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentStateReport, DesiredState, ModelStatePhase, SignedPayload, subjects } from '@millwright/proto';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { type SimCounters, sumCounters, zeroCounters } from './counters.js';
import type { SimAgent } from './fleet.js';
import { nowMs, PhaseRecorder } from './phases.js';
import { SimWorker } from './workers.js';

export type { SimCounters } from './counters.js';

/** What the watcher last saw per key: enough to tell a signed rollback. */
export interface SeenDesired {
  atMs: number;
  version: string;
  rollback: boolean;
}

/** Bounded number of JetStream publishes in flight (report mode: 100,000 agents' ACTIVE reports). */
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

export interface SimFleetDeps {
  kv: KV;
  js: JetStreamClient;
  agents: readonly SimAgent[];
  mode:
    | {
        kind: 'full';
        natsUrl: string;
        /** Pinned signing keys, base64 raw ed25519. */
        trustKeys: string[];
        /** Concurrent downloads, split over the threads. */
        downloads: number;
        threads: number;
        /** Parent of the agents' data directories (a temporary directory inside it is removed at stop). */
        dataRoot: string;
        /** When set, each worker writes its CPU profile (start to stop) there. */
        profileDir?: string;
      }
    | {
        kind: 'report';
        /** Report publishes awaiting their ack at once. */
        publishInFlight: number;
      };
}

interface ReportAgent extends SimAgent {
  seq: number;
  generation: number;
}

export class SimFleet {
  /** Per-agent step times of the current window (full mode, after `collect`). */
  readonly phases = new PhaseRecorder();
  /** Latest desired value per KV key, as the watcher saw it. */
  readonly seen = new Map<string, SeenDesired>();
  private own: SimCounters = zeroCounters();
  private window = 0;
  private readonly reportAgents = new Map<string, ReportAgent>();
  /** KV key -> the worker running that agent, and the agent id. */
  private readonly owners = new Map<string, { worker: SimWorker; id: string }>();
  private readonly workers: SimWorker[] = [];
  private publisher: Publisher | undefined;
  private root: string | undefined;
  private stopWatch: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly deps: SimFleetDeps) {}

  /** This window's counters: this thread's plus the workers' latest. */
  get counters(): SimCounters {
    return sumCounters([this.own, ...this.workers.map((w) => w.counters)]);
  }

  /** Starts the agents, then the one wildcard watch; only new values count (the bucket may hold older ones). */
  async start(): Promise<void> {
    const m = this.deps.mode;
    if (m.kind === 'full') await this.startWorkers(m);
    else {
      this.publisher = new Publisher(this.deps.js, m.publishInFlight, () => this.own.publishErrors++);
      for (const a of this.deps.agents)
        this.reportAgents.set(subjects.agentKey(a.siteId, a.id), { ...a, seq: 0, generation: 0 });
    }
    const watch = await this.deps.kv.watch({ key: '>', ignoreDeletes: true, include: 'updates' });
    this.stopWatch = () => watch.stop();
    this.loop = (async () => {
      for await (const e of watch) {
        if (e.operation !== 'PUT' || e.value.length === 0) continue;
        this.onDesired(e.key, e.value);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopWatch?.();
    await this.loop;
    await Promise.all(this.workers.map((w) => w.stop()));
    if (this.root) await rm(this.root, { recursive: true, force: true });
  }

  /** Returns the counters since the last call and starts a new window (counters and step times). */
  takeCounters(): SimCounters {
    const c = this.counters;
    this.own = zeroCounters();
    this.window++;
    this.phases.reset();
    for (const w of this.workers) w.reset(this.window);
    return c;
  }

  /** Brings the workers' final counters and step times of this window in. */
  async collect(): Promise<void> {
    for (const r of await Promise.all(this.workers.map((w) => w.collect()))) this.phases.merge(r);
  }

  private async startWorkers(m: Extract<SimFleetDeps['mode'], { kind: 'full' }>): Promise<void> {
    this.root = await mkdtemp(join(m.dataRoot, 'mw-ro-agents-'));
    const n = Math.max(1, Math.min(m.threads, this.deps.agents.length));
    const slices = Array.from({ length: n }, (_, i) => this.deps.agents.filter((_, j) => j % n === i));
    const started = await Promise.all(
      slices.map((agents, i) =>
        SimWorker.start({
          natsUrl: m.natsUrl,
          trustKeys: m.trustKeys,
          agents,
          downloads: Math.max(1, Math.floor(m.downloads / n) + (i < m.downloads % n ? 1 : 0)),
          root: this.root!,
          ...(m.profileDir ? { profileDir: m.profileDir } : {}),
        }),
      ),
    );
    this.workers.push(...started);
    started.forEach((worker, i) => {
      for (const a of slices[i]!) this.owners.set(subjects.agentKey(a.siteId, a.id), { worker, id: a.id });
    });
  }

  private onDesired(key: string, value: Uint8Array): void {
    const d = DesiredState.decode(value);
    const now = Date.now();
    const c = this.own;
    c.desiredSeen++;
    c.firstDesiredMs ||= now;
    c.lastDesiredMs = now;
    const rollback = d.model?.signature?.payload
      ? SignedPayload.decode(Buffer.from(d.model.signature.payload, 'base64')).rollback
      : false;
    this.seen.set(key, { atMs: now, version: d.model?.version ?? '', rollback });
    const owner = this.owners.get(key);
    if (owner) {
      owner.worker.post({ t: 'desired', agentId: owner.id, value, desiredAt: nowMs() });
      return;
    }
    const r = this.reportAgents.get(key);
    if (r && d.generation > r.generation) {
      r.generation = d.generation;
      void this.reportActive(r, d);
    }
  }

  private async reportActive(agent: ReportAgent, d: DesiredState): Promise<void> {
    const reportSeq = ++agent.seq;
    const atMs = Date.now();
    const msg = AgentStateReport.encode(
      AgentStateReport.fromPartial({
        agentId: agent.id,
        siteId: agent.siteId,
        reportSeq,
        state: {
          phase: ModelStatePhase.MODEL_STATE_PHASE_ACTIVE,
          version: d.model?.version ?? '',
          reason: 'switched',
          sinceMs: atMs,
        },
        desiredGeneration: d.generation,
        rolloutId: d.rolloutId,
        previousVersion: '',
        atMs,
      }),
    ).finish();
    await this.publisher!.publish(subjects.edge.state(agent.siteId, agent.id), msg, `${agent.id}:state:${reportSeq}`);
    this.own.reports++;
    this.own.activeReports++;
    this.own.lastActiveMs = Date.now();
  }
}
