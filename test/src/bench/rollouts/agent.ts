/**
 * One simulated agent of the `full` fleet: the real edge-agent update use case (UpdateManager with
 * prepareVersion: signature, anti-rollback, HttpArtifactFetcher to a partial file with fsync,
 * sha256 + size, install, load, self-test, atomic switch, persisted pointer) and the real
 * JetStreamStateReporter and NatsArtifactUrlSource. Only the desired-state source is shared (one
 * wildcard KV watch for the fleet, see ./sim.ts), and probes stamp each step into an AgentTimes.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HttpArtifactFetcher } from '@millwright/edge-agent/adapters/http/artifact-download.js';
import { NatsArtifactUrlSource } from '@millwright/edge-agent/adapters/nats/artifact-url.js';
import { decodeSignedPayload } from '@millwright/edge-agent/adapters/nats/desired.js';
import { JetStreamStateReporter, PersistedSequence } from '@millwright/edge-agent/adapters/nats/state-reporter.js';
import type { ModelManifest } from '@millwright/edge-agent/domain/model.js';
import type { RuntimeRegistry } from '@millwright/edge-agent/inference/registry.js';
import { UpdateManager } from '@millwright/edge-agent/update/manager.js';
import { ModelStore, type VersionRef } from '@millwright/edge-agent/update/model-store.js';
import {
  type ArtifactFetcher,
  type ArtifactUrlSource,
  type DesiredStateSource,
  type FetchRequest,
  type StateReporter,
  systemUpdateClock,
} from '@millwright/edge-agent/update/ports.js';
import { noConditionSource } from '@millwright/edge-agent/update/switch-policy.js';
import type { TrustStore } from '@millwright/edge-agent/update/trust.js';
import type { ArtifactSignature, DesiredUpdate, StateReport } from '@millwright/edge-agent/update/types.js';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { SimAgent } from './fleet.js';
import { type AgentTimes, nowMs } from './phases.js';

/** Counting semaphore: the bench's cap on downloads at once (a real fleet has none). */
export class Slots {
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

/** What every simulated agent shares. */
export interface FleetShared {
  nc: NatsConnection;
  /** JetStream client whose acks the fleet counts (see SimFleet). */
  js: JetStreamClient;
  trust: TrustStore;
  registry: RuntimeRegistry;
  slots: Slots;
  /** Each agent's data directory is `<root>/<agent id>`. */
  root: string;
  log: Logger;
  times: (agentId: string) => AgentTimes;
  onDownloaded: (bytes: number, ms: number) => void;
  onUrlRefresh: () => void;
  onReportError: () => void;
}

/** Desired state pushed by the fleet's shared watch (the agent's own KV watch in production). */
class PushedDesired implements DesiredStateSource {
  listener: ((d: DesiredUpdate) => void) | undefined;
  async start(onDesired: (d: DesiredUpdate) => void): Promise<void> {
    this.listener = onDesired;
  }
  async stop(): Promise<void> {
    this.listener = undefined;
  }
}

/**
 * The model store, plus two bench concerns: stamping install, and freeing the installed artifact
 * once the agent switched (1,000 agents x 5 MB would otherwise stay on the bench box; a real agent
 * keeps its active and previous versions).
 */
class BenchModelStore extends ModelStore {
  constructor(
    dir: string,
    private readonly times: () => AgentTimes,
  ) {
    super(dir);
  }
  override async install(ref: VersionRef, partial: string, m: ModelManifest, sig: ArtifactSignature): Promise<void> {
    const t = this.times();
    t.installStart = nowMs();
    await super.install(ref, partial, m, sig);
    t.installed = nowMs();
  }
  override async prune(keep: readonly VersionRef[]): Promise<void> {
    await super.prune(keep);
    await Promise.all(keep.map((r) => rm(join(this.versionDir(r), 'artifact'), { force: true })));
  }
}

/** The real fetcher behind the bench's download cap, stamping slot and finish. */
class CappedFetcher implements ArtifactFetcher {
  constructor(
    private readonly inner: ArtifactFetcher,
    private readonly shared: FleetShared,
    private readonly times: () => AgentTimes,
  ) {}

  async fetch(req: FetchRequest, signal: AbortSignal): Promise<void> {
    await this.shared.slots.take();
    try {
      signal.throwIfAborted();
      const started = nowMs();
      this.times().slot ??= started;
      await this.inner.fetch(req, signal);
      const t = this.times();
      t.fetched = nowMs();
      this.shared.onDownloaded(req.expectedBytes, t.fetched - started);
    } finally {
      this.shared.slots.give();
    }
  }
}

export class UpdatingAgent {
  private readonly desired = new PushedDesired();
  private readonly reporter: JetStreamStateReporter;
  private readonly manager: UpdateManager;

  constructor(agent: SimAgent, s: FleetShared) {
    const dir = join(s.root, agent.id);
    const times = () => s.times(agent.id);
    const clock = systemUpdateClock;
    const log = s.log.child({ agentId: agent.id });
    this.reporter = new JetStreamStateReporter({
      js: () => s.js,
      siteId: agent.siteId,
      agentId: agent.id,
      clock,
      seq: new PersistedSequence(join(dir, 'update', 'report-seq')),
      onError: s.onReportError,
    });
    const realUrls = new NatsArtifactUrlSource({
      nc: () => s.nc,
      siteId: agent.siteId,
      agentId: agent.id,
      timeoutMs: 30_000,
    });
    const urls: ArtifactUrlSource = {
      refresh: (model, version, signal) => {
        s.onUrlRefresh();
        return realUrls.refresh(model, version, signal);
      },
    };
    // The agent's config defaults (update.downloadTimeoutS, downloadRetries, retryBackoff*, maxArtifactBytes).
    const options = {
      timeoutMs: 30_000,
      retries: 5,
      backoffMinMs: 1000,
      backoffMaxMs: 300_000,
      maxBytes: 512 * 2 ** 20,
    };
    const fetcher = new CappedFetcher(new HttpArtifactFetcher({ urls, clock, options }), s, times);
    this.manager = new UpdateManager({
      store: new BenchModelStore(dir, times),
      trust: s.trust,
      decode: decodeSignedPayload,
      registry: {
        loadModel: async (manifest, artifact) => {
          const t = times();
          t.loadStart = nowMs();
          const m = await s.registry.loadModel(manifest, artifact);
          t.loaded = nowMs();
          return m;
        },
      },
      fetcher,
      clock,
      log,
      random: Math.random,
      desired: this.desired,
      reporter: this.stamping(this.reporter, times),
      conditions: noConditionSource,
      options: {
        retryBackoffMinMs: 1000,
        retryBackoffMaxMs: 300_000,
        switchCheckMs: 30_000,
        watchdogDefaultS: 300,
        watchdogMinSamples: 50,
        maxArtifactBytes: options.maxBytes,
      },
    });
  }

  async start(): Promise<void> {
    await this.manager.start();
  }

  /** Hands the agent a desired state, as its KV watch would. */
  push(d: DesiredUpdate): void {
    this.desired.listener?.(d);
  }

  async stop(): Promise<void> {
    await this.manager.stop();
    await this.reporter.stop(2000);
  }

  private stamping(inner: StateReporter, times: () => AgentTimes): StateReporter {
    return {
      report(r: StateReport) {
        if (r.phase === 'downloading' || r.phase === 'active') times()[r.phase] ??= nowMs();
        inner.report(r);
      },
    };
  }
}
