#!/usr/bin/env node
import { readFileSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { subjects } from '@millwright/proto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { fleetServiceBinding } from './adapters/grpc/fleet.js';
import { startGrpcServer } from './adapters/grpc/server.js';
import { startHttpServer } from './adapters/http/server.js';
import { connectNats } from './adapters/nats/connect.js';
import { JetStreamDeadLetters } from './adapters/nats/dead-letters.js';
import { HeartbeatIngest } from './adapters/nats/heartbeats.js';
import { RecordBatchConsumer } from './adapters/nats/records.js';
import { ensureTopology, keepTopology } from './adapters/nats/topology.js';
import { KvWatermarks } from './adapters/nats/watermarks.js';
import { openDb, runMigrations } from './adapters/postgres/db.js';
import { PostgresFleetStore } from './adapters/postgres/fleet-store.js';
import { PostgresRecordStore } from './adapters/postgres/records-store.js';
import { createS3Client, S3SampleStore } from './adapters/s3/samples.js';
import { type Config, loadConfig } from './config.js';
import { ConfigError } from './domain/errors.js';
import { systemClock } from './fleet/ports.js';
import { FleetService } from './fleet/service.js';
import { promIngestMetrics } from './ingest/metrics.js';
import { RecordIngest } from './ingest/records.js';
import { createLogger } from './logger.js';
import { createDashboardWiring } from './main-dashboard.js';
import { createFleetWiring } from './main-fleet.js';
import { createRetrainingWiring } from './main-retraining.js';
import { wireRollouts } from './main-rollouts.js';
import { createSecurityWiring } from './main-security.js';
import { rolloutCanaryStarter } from './retraining/rollout-canary.js';
import { VERSION } from './version.js';
import { wireRegistry } from './wire-registry.js';

/** Wires and runs one control-plane replica; resolves to a stop function. */
export async function startControlPlane(config: Readonly<Config>) {
  const log = createLogger({
    level: config.log.level,
    service: 'mw-control-plane',
    version: VERSION,
    replica: config.replicaId,
  });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const deadLetters = new Counter({
    name: 'mw_dead_letters_total',
    help: 'Messages dead-lettered, by code',
    labelNames: ['code'],
    registers: [registry],
  });
  const hbFlush = new Histogram({
    name: 'mw_heartbeat_flush_seconds',
    help: 'Heartbeat batch write time',
    registers: [registry],
  });
  const hbAgents = new Counter({
    name: 'mw_heartbeats_applied_total',
    help: 'Coalesced heartbeats written',
    registers: [registry],
  });

  if (config.database.migrate) {
    await runMigrations(config.database.url);
    log.info('db.migrated');
  }
  const dbh = openDb(config.database.url, config.database.poolSize);
  // Ingest writes get their own connections (two record flushes, one heartbeat flush): a burst of
  // flushes never queues an API read behind it in the pool.
  const ingestDbh = openDb(config.database.url, 3);
  const nc = await connectNats({
    url: config.nats.url,
    credsFile: config.nats.credsFile,
    tls: config.nats.tls,
    name: `cp-${config.replicaId}`,
  });
  const jsm = await jetstreamManager(nc);
  await ensureTopology(nc, jsm, config.nats.replicas);
  void keepTopology(nc, jsm, config.nats.replicas, {
    onEnsured: () => log.info('nats.topology.ensured'),
    onError: (err) => log.warn({ err }, 'nats.topology.failed'),
  });
  const js = jetstream(nc);
  const thresholds = {
    staleAfterMs: config.health.staleAfterS * 1000,
    offlineAfterMs: config.health.offlineAfterS * 1000,
  };
  const store = new PostgresFleetStore({ db: dbh.db, sql: dbh.sql, thresholds, writeSql: ingestDbh.sql });
  const fleet = new FleetService({ store, clock: systemClock });
  const security = createSecurityWiring({ config, db: dbh.db, log, metrics: registry });
  await security.start();
  const fleetAdmin = createFleetWiring({
    config,
    db: dbh.db,
    nc,
    fleetStore: store,
    log,
    metrics: registry,
    ...(security.credentials ? { credentials: security.credentials } : {}),
  });
  const dlq = new JetStreamDeadLetters({ js, now: systemClock.now, onDeadLetter: (code) => deadLetters.inc({ code }) });
  const heartbeats = new HeartbeatIngest({
    consumer: await js.consumers.get(subjects.STREAMS.heartbeats, subjects.CONSUMERS.heartbeats),
    store,
    deadLetters: dlq,
    log: log.child({ component: 'ingest.heartbeats' }),
    now: systemClock.now,
    flushMs: config.ingest.heartbeatFlushMs,
    maxMessageBytes: config.ingest.maxMessageBytes,
    autoRegister: config.fleet.autoRegister,
    onApplied: fleetAdmin.onHeartbeatsApplied,
    onFlush: (n, ms) => {
      hbAgents.inc(n);
      hbFlush.observe(ms / 1000);
    },
  });
  heartbeats.start();
  fleetAdmin.start();
  const samplesS3 = createS3Client(config.s3);
  const records = new RecordBatchConsumer({
    consumer: await js.consumers.get(subjects.STREAMS.records, subjects.CONSUMERS.records),
    ingest: new RecordIngest({
      store: new PostgresRecordStore({ sql: ingestDbh.sql, insertMode: config.ingest.recordsInsertMode }),
      blobs: new S3SampleStore({ client: samplesS3, bucket: config.s3.bucket }),
      watermarks: new KvWatermarks({ kv: await new Kvm(js).open(subjects.KV.watermark), now: systemClock.now }),
      metrics: promIngestMetrics(registry),
      log: log.child({ component: 'ingest.records' }),
      now: systemClock.now,
    }),
    deadLetters: dlq,
    log: log.child({ component: 'ingest.records' }),
    flushMs: config.ingest.recordsFlushMs,
    flushRecords: config.ingest.recordsFlushRecords,
    maxMessageBytes: config.ingest.recordBatchMaxBytes,
    pullBatch: config.ingest.recordsPullBatch,
  });
  records.start();
  // One S3 client for the process: the sample store and the model registry share it.
  const modelRegistry = await wireRegistry({ config, db: dbh.db, s3: samplesS3, log });
  const rollouts = await wireRollouts({
    config,
    db: dbh.db,
    sql: dbh.sql,
    nc,
    js,
    registry: modelRegistry.registry,
    deadLetters: dlq,
    log,
    metrics: registry,
  });
  modelRegistry.keys.setDesiredPublisher(() => rollouts.publishPending());
  const canary = rolloutCanaryStarter((spec, caller) => rollouts.service.start(spec, caller));
  const retraining = createRetrainingWiring({
    config,
    sql: dbh.sql,
    s3: samplesS3,
    js,
    registry: modelRegistry.registry,
    metrics: registry,
    log,
    canary,
  });
  const grpc = await startGrpcServer(
    config.grpc.host,
    config.grpc.port,
    [
      fleetServiceBinding({
        fleet,
        ...fleetAdmin.api,
        stopAllRollouts: (why, who) => rollouts.service.stopAll(why, who),
        log: log.child({ component: 'grpc' }),
      }),
      modelRegistry.binding,
      rollouts.binding,
      retraining.binding,
      security.admin,
    ],
    security.grpc,
  );
  let ready = true;
  const dashboard = createDashboardWiring({
    config,
    dbh,
    nc,
    fleet,
    ...fleetAdmin.api,
    registry: modelRegistry.registry,
    rollouts: rollouts.service,
    log,
    metrics: registry,
  });
  await dashboard.start();
  const http = await startHttpServer({
    host: config.http.host,
    port: config.http.port,
    registry,
    ready: () => ready && !nc.isClosed(),
    routes: dashboard.routes,
    ...security.http,
  });
  retraining.start();
  rollouts.start();
  modelRegistry.start();
  log.info({ grpcPort: grpc.port, httpPort: http.port }, 'control_plane.ready');

  return {
    grpcPort: grpc.port,
    httpPort: http.port,
    async stop(): Promise<void> {
      ready = false;
      log.info('control_plane.stopping');
      await grpc.stop();
      await dashboard.stop();
      await heartbeats.stop();
      await fleetAdmin.stop();
      await records.stop();
      await rollouts.stop();
      await retraining.stop();
      await modelRegistry.stop();
      await nc.drain();
      await security.stop();
      await http.stop();
      await dbh.close();
      await ingestDbh.close();
      samplesS3.destroy();
      log.info('control_plane.stopped');
    },
  };
}

function configFromProcess(): Readonly<Config> {
  const i = process.argv.indexOf('--config');
  const file = i >= 0 ? process.argv[i + 1] : process.env.MW_CONFIG_FILE;
  return loadConfig({
    env: process.env,
    fileText: file ? readFileSync(file, 'utf8') : undefined,
    readFile: (p) => readFileSync(p, 'utf8'),
  });
}

async function main(): Promise<void> {
  let config: Readonly<Config>;
  try {
    config = configFromProcess();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`mw-control-plane: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const cp = await startControlPlane(config);
  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    cp.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`mw-control-plane failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
