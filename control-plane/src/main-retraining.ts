/** Wiring of the retraining handoff (part of main: the only place besides main.ts that wires). */
import { randomUUID } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { retrainingServiceBinding } from './adapters/grpc/retraining.js';
import type { GrpcServiceBinding } from './adapters/grpc/server.js';
import { HttpRetrainingWebhook, JetStreamRetrainingEvents } from './adapters/nats/retraining-events.js';
import type { Sql } from './adapters/postgres/db.js';
import { PostgresLeaderElection } from './adapters/postgres/leader.js';
import { PostgresRetrainingStore } from './adapters/postgres/retraining-store.js';
import { S3DatasetStore } from './adapters/s3/datasets.js';
import type { Config } from './config.js';
import type { RegistryService } from './registry/service.js';
import { UnavailableCanaryStarter } from './retraining/canary.js';
import type { DriftReport } from './retraining/domain.js';
import { RetrainingLoop } from './retraining/loop.js';
import type { CanaryStarter, VersionCatalog, VersionInfo } from './retraining/ports.js';
import { DatasetProjector } from './retraining/projector.js';
import { RetrainingService } from './retraining/service.js';

/** Advisory lock of the retraining loop's leader (beside schema.ts `leaderLocks`). */
export const RETRAINING_LOCK_ID = 0x4d570003;

export interface RetrainingWiringDeps {
  config: Pick<Readonly<Config>, 'database' | 'leader' | 'retraining' | 's3'>;
  sql: Sql;
  s3: S3Client;
  js: JetStreamClient;
  registry: RegistryService;
  metrics: Registry;
  log: Logger;
  /** The rollout controller's canary entry point; refuses with "rollouts not available" until wired. */
  canary?: CanaryStarter;
}

/** Builds the retraining service, its gRPC binding and the leader-only projection and trigger loop. */
export function createRetrainingWiring(deps: RetrainingWiringDeps) {
  const log = deps.log.child({ component: 'retraining' });
  const store = new PostgresRetrainingStore({ sql: deps.sql });
  const blobs = new S3DatasetStore({ client: deps.s3, bucket: deps.config.s3.bucket });
  const catalog = registryCatalog(deps.registry);
  const m = retrainingMetrics(deps.metrics);
  const service = new RetrainingService({
    store,
    blobs,
    catalog,
    events: new JetStreamRetrainingEvents({ js: deps.js }),
    webhook: new HttpRetrainingWebhook(),
    canary: deps.canary ?? new UnavailableCanaryStarter(),
    now: Date.now,
    newId: randomUUID,
    log,
    defaultLeaseS: deps.config.retraining.defaultLeaseS,
    onRequest: (trigger) => m.requests.inc({ trigger }),
  });
  const leader = new PostgresLeaderElection({
    url: deps.config.database.url,
    lockId: RETRAINING_LOCK_ID,
    name: 'retraining',
    retryMs: deps.config.leader.retryS * 1000,
    log: log.child({ component: 'leader' }),
  });
  const loop = new RetrainingLoop({
    leader,
    projector: new DatasetProjector({ store, blobs, catalog, log }),
    service,
    store,
    now: Date.now,
    log,
    intervalMs: deps.config.retraining.intervalS * 1000,
    onProjected: (s) => {
      m.rows.inc(s.rows);
      m.objects.inc(s.objects);
      m.labels.inc(s.labels);
    },
    onDrift: (r) => setDriftGauges(m, r),
  });
  return {
    service,
    binding: retrainingServiceBinding({ service, log: deps.log.child({ component: 'grpc' }) }) as GrpcServiceBinding,
    start(): void {
      leader.start();
      loop.start();
    },
    async stop(): Promise<void> {
      await loop.stop();
      await leader.stop();
    },
  };
}

function registryCatalog(registry: RegistryService): VersionCatalog {
  const info = (v: { model: string; version: string; manifest: VersionInfo['manifest'] }): VersionInfo => ({
    model: v.model,
    version: v.version,
    manifest: v.manifest,
  });
  return {
    getVersion: async (model, ref) => info(await registry.getVersion(model, ref)),
    latestVersion: async (model) => {
      const { versions } = await registry.listVersions(model, 1, '');
      return versions[0] ? info(versions[0]) : undefined;
    },
  };
}

function retrainingMetrics(registry: Registry) {
  const r = [registry];
  return {
    requests: new Counter({
      name: 'mw_retraining_requests_total',
      help: 'Retraining requests created, by trigger',
      labelNames: ['trigger'],
      registers: r,
    }),
    rows: new Counter({
      name: 'mw_dataset_rows_total',
      help: 'Captured samples sealed into dataset parts',
      registers: r,
    }),
    objects: new Counter({ name: 'mw_dataset_objects_total', help: 'Dataset parts sealed', registers: r }),
    labels: new Counter({ name: 'mw_operator_labels_total', help: 'Agent labels stored', registers: r }),
    psi: new Gauge({
      name: 'mw_feature_drift_psi',
      help: 'PSI of a feature against the training reference, per model version and site',
      labelNames: ['model', 'version', 'site', 'feature'],
      registers: r,
    }),
    ks: new Gauge({
      name: 'mw_feature_drift_ks',
      help: 'KS statistic of a feature against the training reference',
      labelNames: ['model', 'version', 'site', 'feature'],
      registers: r,
    }),
    alertRate: new Gauge({
      name: 'mw_model_alert_rate',
      help: 'Alerts per inference over the policy drift window',
      labelNames: ['model', 'version', 'site'],
      registers: r,
    }),
    precision: new Gauge({
      name: 'mw_model_label_precision',
      help: 'Confirmed failures among labelled alerts',
      labelNames: ['model', 'version', 'site'],
      registers: r,
    }),
  };
}

function setDriftGauges(m: ReturnType<typeof retrainingMetrics>, r: DriftReport): void {
  const base = { model: r.model, version: r.version, site: r.siteId };
  for (const f of r.features) {
    m.psi.set({ ...base, feature: f.feature }, f.psi);
    m.ks.set({ ...base, feature: f.feature }, f.ks);
  }
  m.alertRate.set(base, r.alertRate);
  m.precision.set(base, r.precision);
}
