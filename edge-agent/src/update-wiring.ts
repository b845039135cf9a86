import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { HttpArtifactFetcher } from './adapters/http/artifact-download.js';
import { NatsArtifactUrlSource } from './adapters/nats/artifact-url.js';
import { decodeSignedPayload, decodeTrustBundlePayload, KvDesiredStateSource } from './adapters/nats/desired.js';
import type { NatsLink } from './adapters/nats/link.js';
import { JetStreamStateReporter, PersistedSequence } from './adapters/nats/state-reporter.js';
import type { AgentConfig } from './config.js';
import type { ConfigOverlayPort } from './config-overlay/applier.js';
import type { RuntimeRegistry } from './inference/registry.js';
import { UpdateManager } from './update/manager.js';
import { promUpdateMetrics } from './update/metrics.js';
import { ModelStore } from './update/model-store.js';
import { type ConditionSource, systemUpdateClock } from './update/ports.js';
import type { ModelSlots } from './update/slots.js';
import { noConditionSource } from './update/switch-policy.js';
import { TrustKeeper } from './update/trust-keeper.js';

/** Part of main's wiring: the model update manager with its NATS and HTTP adapters. */
export async function createUpdates(deps: {
  config: Readonly<AgentConfig>;
  link: NatsLink;
  slots: ModelSlots;
  registry: RuntimeRegistry;
  log: Logger;
  conditions?: ConditionSource;
  /** Applies the desired state's config overlay (hot-reloadable keys). */
  configOverlay?: ConfigOverlayPort;
  /** Where the update metrics (trust bundles, revoked models, refused config) are registered. */
  metrics?: Registry;
}): Promise<{ manager: UpdateManager; stop(): Promise<void> }> {
  const { config, link, log } = deps;
  const { agentId, siteId, update } = config;
  const clock = systemUpdateClock;
  const ulog = log.child({ component: 'update' });
  const reporter = new JetStreamStateReporter({
    js: () => link.jetstream(),
    siteId,
    agentId,
    clock,
    seq: new PersistedSequence(`${config.dataDir}/update/report-seq`),
    onError: (err) => ulog.warn({ err }, 'update.report.retry'),
  });
  const urls = new NatsArtifactUrlSource({
    nc: () => link.connection(),
    siteId,
    agentId,
    timeoutMs: update.downloadTimeoutS * 1000,
  });
  const fetcher = new HttpArtifactFetcher({
    urls,
    clock,
    options: {
      timeoutMs: update.downloadTimeoutS * 1000,
      retries: update.downloadRetries,
      backoffMinMs: update.retryBackoffMinMs,
      backoffMaxMs: update.retryBackoffMaxMs,
      maxBytes: update.maxArtifactBytes,
    },
  });
  const desired = new KvDesiredStateSource({
    nc: () => link.connection(),
    siteId,
    agentId,
    onInvalid: (reason) => ulog.warn({ reason }, 'update.desired.invalid'),
    onError: (err) => ulog.warn({ err }, 'update.desired.watch_failed'),
  });
  // Pinned, enrolled and bundle keys; the accepted bundle is persisted (and journalled), so revocations
  // survive restarts and even a lost trust.json.
  const trust = await TrustKeeper.open({
    dataDir: config.dataDir,
    configKeys: config.trust.keys,
    decode: decodeTrustBundlePayload,
    log: log.child({ component: 'trust' }),
    now: clock.now,
  });
  const manager = new UpdateManager({
    store: new ModelStore(config.dataDir),
    trust: trust.store,
    trustUpdates: trust,
    decode: decodeSignedPayload,
    registry: deps.registry,
    fetcher,
    clock,
    log: ulog,
    random: Math.random,
    desired,
    reporter,
    conditions: deps.conditions ?? noConditionSource,
    slots: deps.slots,
    ...(deps.configOverlay ? { config: deps.configOverlay } : {}),
    ...(deps.metrics ? { metrics: promUpdateMetrics(deps.metrics) } : {}),
    options: {
      retryBackoffMinMs: update.retryBackoffMinMs,
      retryBackoffMaxMs: update.retryBackoffMaxMs,
      switchCheckMs: update.switchCheckS * 1000,
      watchdogDefaultS: update.watchdogS,
      watchdogMinSamples: update.watchdogMinSamples,
      maxArtifactBytes: update.maxArtifactBytes,
    },
  });
  return {
    manager,
    async stop() {
      await manager.stop();
      await reporter.stop();
    },
  };
}
