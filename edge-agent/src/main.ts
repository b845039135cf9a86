#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { bufferStatus } from './adapters/nats/buffer-status.js';
import { connectNats } from './adapters/nats/connect.js';
import { NatsEnrollClient, nkeyUserKeys } from './adapters/nats/enroll.js';
import { HeartbeatPublisher } from './adapters/nats/heartbeat.js';
import { NatsLink } from './adapters/nats/link.js';
import { type AgentConfig, loadAgentConfig } from './config.js';
import { ConfigOverlayApplier } from './config-overlay/applier.js';
import { DataPlane } from './data-plane.js';
import { ConfigError } from './domain/errors.js';
import { ensureIdentity } from './enroll/enroll.js';
import { ENROLL_EXIT_CODE, isEnrollmentError } from './enroll/errors.js';
import { createLogger } from './logger.js';
import { createAgentRuntimeRegistry } from './runtimes.js';
import { ModelSlots } from './update/slots.js';
import { createUpdates } from './update-wiring.js';
import { uplink } from './uplink.js';
import { VERSION } from './version.js';

/** Wires and runs the agent; resolves to a stop function. */
export async function startAgent(config: Readonly<AgentConfig>) {
  const log = createLogger({
    level: config.log.level,
    version: VERSION,
    agentId: config.agentId,
    siteId: config.siteId,
  });
  const identity = await ensureIdentity({
    dataDir: config.dataDir,
    agent: {
      agentId: config.agentId,
      siteId: config.siteId,
      lineId: config.lineId,
      labels: config.labels,
      agentVersion: VERSION,
    },
    settings: { ...config.enroll, timeoutMs: config.enroll.timeoutS * 1000 },
    client: new NatsEnrollClient({
      url: config.nats.url,
      agentId: config.agentId,
      credsFile: config.enroll.bootstrapCredsFile,
      tls: config.nats.tls,
    }),
    keys: nkeyUserKeys,
    log: log.child({ component: 'enroll' }),
    now: Date.now,
  });
  const credsFile = config.nats.credsFile ?? identity?.credsFile;
  // Offline first: connect in the background; inference starts now from the model on local disk.
  // stop() aborts the retries of a broker never reached; the link then simply never connects (its
  // waiters never run), which is what a stopped agent wants.
  const connecting = new AbortController();
  const link = new NatsLink(
    connectNats({
      url: config.nats.url,
      credsFile,
      agentId: config.agentId,
      tls: config.nats.tls,
      onConnectError: (err) => log.warn({ err }, 'nats.connect_failed'),
      signal: connecting.signal,
    }).catch((err: unknown) => {
      if (connecting.signal.aborted) return new Promise<never>(() => {});
      throw err;
    }),
  );
  void link.ready.then(() => log.info('nats.connected'));
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  const slots = new ModelSlots();
  // The last applied config overlay, so an offline restart keeps it.
  const configOverlay = new ConfigOverlayApplier({ base: config, log: log.child({ component: 'config' }) });
  await configOverlay.load();
  const updates = await createUpdates({
    config,
    link,
    slots,
    registry: createAgentRuntimeRegistry(),
    log,
    configOverlay,
    metrics,
  });
  const dataPlane = await DataPlane.open({
    config,
    log,
    metrics,
    models: slots,
    bootId: randomBytes(4).toString('hex'),
    makeUplink: (bufferId) => uplink({ link, config, bufferId, log }),
  });
  // Alert policy, cleaning parameters and capture policy follow the desired state without a restart.
  configOverlay.subscribe((next) => dataPlane.prepareConfig(next));
  // Restores the last good model from disk before inference starts; needs no network. It starts
  // after the data plane subscribed, so every desired config is checked against its channels.
  await updates.manager.start();
  await dataPlane.start();
  const heartbeat = new HeartbeatPublisher({
    link,
    id: {
      agentId: config.agentId,
      siteId: config.siteId,
      lineId: config.lineId,
      labels: config.labels,
      agentVersion: VERSION,
    },
    source: {
      runningModelVersion: () => slots.activeVersion(),
      buffer: () => bufferStatus(dataPlane.buffer.stats(), dataPlane.sync.stats),
      resources: () => ({ cpuPercent: 0, rssBytes: process.memoryUsage().rss, diskFreeBytes: 0 }),
    },
    intervalMs: config.heartbeat.intervalS * 1000,
    now: Date.now,
  });
  heartbeat.start();
  log.info({ nats: config.nats.url.replace(/\/\/[^@]*@/, '//'), intervalS: config.heartbeat.intervalS }, 'agent.ready');
  return {
    async stop(): Promise<void> {
      log.info('agent.stopping');
      // No new connection attempts once stopping; a connection already up is drained below.
      connecting.abort();
      heartbeat.stop();
      await dataPlane.stop();
      await updates.stop();
      await link.close();
      log.info('agent.stopped');
    },
  };
}

function configFromProcess(): Readonly<AgentConfig> {
  const i = process.argv.indexOf('--config');
  const file = i >= 0 ? process.argv[i + 1] : process.env.MW_CONFIG_FILE;
  return loadAgentConfig({
    env: process.env,
    fileText: file ? readFileSync(file, 'utf8') : undefined,
    readFile: (p) => readFileSync(p, 'utf8'),
  });
}

async function main(): Promise<void> {
  let config: Readonly<AgentConfig>;
  try {
    config = configFromProcess();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`mw-agent: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const agent = await startAgent(config);
  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    agent.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  main().catch((err: unknown) => {
    if (isEnrollmentError(err)) {
      process.stderr.write(`mw-agent: ${err.message}\n`);
      process.exit(ENROLL_EXIT_CODE);
    }
    process.stderr.write(`mw-agent failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
