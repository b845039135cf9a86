#!/usr/bin/env node
import { readFileSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { connectNats } from './adapters/nats/connect.js';
import { HeartbeatPublisher } from './adapters/nats/heartbeat.js';
import { type AgentConfig, loadAgentConfig } from './config.js';
import { ConfigError } from './domain/errors.js';
import { createLogger } from './logger.js';
import { VERSION } from './version.js';

/** Wires and runs the agent; resolves to a stop function. */
export async function startAgent(config: Readonly<AgentConfig>) {
  const log = createLogger({
    level: config.log.level,
    version: VERSION,
    agentId: config.agentId,
    siteId: config.siteId,
  });
  const nc = await connectNats({ url: config.nats.url, credsFile: config.nats.credsFile, agentId: config.agentId });
  const heartbeat = new HeartbeatPublisher({
    nc,
    id: {
      agentId: config.agentId,
      siteId: config.siteId,
      lineId: config.lineId,
      labels: config.labels,
      agentVersion: VERSION,
    },
    source: {
      runningModelVersion: () => '',
      buffer: () => undefined,
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
      heartbeat.stop();
      await nc.drain();
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
    process.stderr.write(`mw-agent failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
