/** Wiring of rollouts (part of main: the only place besides main.ts that wires). */
import { randomUUID } from 'node:crypto';
import { RolloutDecision, subjects } from '@millwright/proto';
import type { JetStreamClient } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { rolloutServiceBinding } from './adapters/grpc/rollouts.js';
import { ArtifactUrlResponder } from './adapters/nats/artifact-urls.js';
import type { DeadLetterSink } from './adapters/nats/dead-letters.js';
import { KvDesiredWriter, type Presigner, publishPending } from './adapters/nats/desired-writer.js';
import { StateIngest } from './adapters/nats/state-ingest.js';
import { PostgresAuditLog } from './adapters/postgres/audit-store.js';
import type { Db, Sql } from './adapters/postgres/db.js';
import { PostgresDesiredStore } from './adapters/postgres/desired-store.js';
import { PostgresLeaderElection } from './adapters/postgres/leader.js';
import { PostgresRolloutStore } from './adapters/postgres/rollout-store.js';
import { leaderLocks } from './adapters/postgres/schema.js';
import { PostgresStateStore } from './adapters/postgres/state-store.js';
import type { Config } from './config.js';
import type { RegistryService } from './registry/service.js';
import { RolloutController } from './rollouts/controller.js';
import { DEFAULT_ROLLOUT_OPTIONS, type RolloutDeps } from './rollouts/deps.js';
import type { VersionCatalog } from './rollouts/ports.js';
import { RolloutService } from './rollouts/service.js';

export interface RolloutWiringDeps {
  config: Readonly<Config>;
  db: Db;
  sql: Sql;
  nc: NatsConnection;
  js: JetStreamClient;
  registry: RegistryService;
  deadLetters: DeadLetterSink;
  log: Logger;
  metrics: Registry;
}

/** The registry as rollouts see it. */
export function registryCatalog(registry: RegistryService): VersionCatalog {
  return {
    // Refuses versions signed only by a revoked key (FAILED_PRECONDITION), so they are never rolled out.
    version: async (model, version) => {
      const v = await registry.deployableVersion(model, version);
      return {
        model,
        version: v.version,
        sha256: v.sha256,
        sizeBytes: v.sizeBytes,
        signature: v.signature,
        sequence: v.sequence,
      };
    },
    signRollback: (model, version, from) => registry.signRollback(model, version, from),
    alias: async (model, alias) => (await registry.getModel(model)).aliases[alias],
    moveAlias: async (model, alias, version, actor, reason) => {
      await registry.setAlias({ model, alias, version, reason }, { actor, source: 'rollout-controller' });
    },
  };
}

/** Builds the rollout controller, its API, the state ingest and the artifact URL responder. */
export async function wireRollouts(deps: RolloutWiringDeps) {
  const { config, log } = deps;
  const presign: Presigner = (model, version) => deps.registry.getArtifactUrl(model, version);
  const desired = new PostgresDesiredStore({ sql: deps.sql });
  const m = rolloutMetrics(deps.metrics);
  const kv = await new Kvm(deps.js).open(subjects.KV.desired);
  const rolloutDeps: RolloutDeps = {
    store: new PostgresRolloutStore({ sql: deps.sql, offlineAfterMs: config.health.offlineAfterS * 1000 }),
    desired,
    bus: new KvDesiredWriter({
      kv,
      presign,
      now: Date.now,
      trust: () => deps.registry.trustBundle(),
      log: log.child({ component: 'rollouts.kv' }),
    }),
    catalog: registryCatalog(deps.registry),
    events: natsEvents(deps.nc, log),
    metrics: {
      decision: (kind) => m.decisions.inc({ kind }),
      stage: (id, stage) =>
        stage === undefined ? m.stage.remove({ rollout: id }) : m.stage.set({ rollout: id }, stage),
    },
    audit: new PostgresAuditLog({ db: deps.db }),
    clock: { now: Date.now },
    newId: randomUUID,
    log: log.child({ component: 'rollouts' }),
    options: {
      ...DEFAULT_ROLLOUT_OPTIONS,
      tickMs: config.rollouts.tickMs,
      stuckAfterMs: config.rollouts.stuckAfterS * 1000,
    },
  };
  const leader = new PostgresLeaderElection({
    url: config.database.url,
    lockId: leaderLocks.rolloutController,
    name: 'rollout_controller',
    retryMs: config.leader.retryS * 1000,
    log: log.child({ component: 'leader' }),
  });
  const controller = new RolloutController({ ...rolloutDeps, leader });
  const service = new RolloutService({ ...rolloutDeps, kick: () => controller.kick() });
  const ingest = new StateIngest({
    consumer: await deps.js.consumers.get(subjects.STREAMS.state, subjects.CONSUMERS.state),
    store: new PostgresStateStore({ sql: deps.sql }),
    deadLetters: deps.deadLetters,
    log: log.child({ component: 'ingest.state' }),
    onApplied: (n) => m.reports.inc(n),
  });
  const urls = new ArtifactUrlResponder({
    nc: deps.nc,
    desired,
    presign,
    log: log.child({ component: 'rollouts.urls' }),
  });
  return {
    service,
    /**
     * Writes every desired state not yet in the KV now (e.g. re-issued by a signing-key change).
     * @throws when some were not written (they stay pending for the controller's repair pass).
     */
    async publishPending(): Promise<void> {
      await publishPending(desired, rolloutDeps.bus, { now: Date.now });
    },
    binding: rolloutServiceBinding({ service, log: log.child({ component: 'grpc' }) }),
    start(): void {
      const gauge = deps.metrics.getSingleMetric('mw_leader') as Gauge | undefined;
      leader.onChange((isLeader) => {
        gauge?.set({ lock: 'rollout_controller' }, isLeader ? 1 : 0);
        if (isLeader) controller.kick();
      });
      ingest.start();
      urls.start();
      leader.start();
      controller.start();
    },
    async stop(): Promise<void> {
      await urls.stop();
      await controller.stop();
      await leader.stop();
      await ingest.stop();
    },
  };
}

function natsEvents(nc: NatsConnection, log: Logger): RolloutDeps['events'] {
  return {
    decision: (d) => {
      try {
        const msg = RolloutDecision.encode({ ...d, gates: [] }).finish();
        nc.publish(subjects.events.rollout(d.rolloutId), msg);
      } catch (err) {
        log.warn({ err, rolloutId: d.rolloutId }, 'rollout.event.publish_failed');
      }
    },
  };
}

function rolloutMetrics(registry: Registry) {
  return {
    decisions: new Counter({
      name: 'mw_rollout_decisions_total',
      help: 'Rollout decisions by kind (stage_advanced, gate_failed, rolled_back, ...)',
      labelNames: ['kind'],
      registers: [registry],
    }),
    stage: new Gauge({
      name: 'mw_rollout_stage',
      help: 'Current stage index of each running rollout (leader)',
      labelNames: ['rollout'],
      registers: [registry],
    }),
    reports: new Counter({
      name: 'mw_agent_state_reports_total',
      help: 'Agent state reports stored',
      registers: [registry],
    }),
  };
}
