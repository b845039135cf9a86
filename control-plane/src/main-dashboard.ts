/** Wiring of the dashboard (HTTP JSON API, SSE, static page) and notifications (part of main). */
import { subjects } from '@millwright/proto';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { FetchWebhookSender } from './adapters/http/webhook.js';
import { PostgresAlertRuleStore, PostgresNotificationStore } from './adapters/postgres/alert-store.js';
import { PostgresApiTokenStore } from './adapters/postgres/api-token-store.js';
import { PostgresLabelWriter, PostgresRecordReads } from './adapters/postgres/dashboard-store.js';
import type { DbHandle } from './adapters/postgres/db.js';
import { PostgresLeaderElection } from './adapters/postgres/leader.js';
import { PostgresRolloutReads } from './adapters/postgres/rollout-reads.js';
import type { Caller } from './audit/ports.js';
import type { Config } from './config.js';
import { DashboardApi } from './dashboard/api.js';
import { serveAsset } from './dashboard/assets.js';
import { openAuthorizer, roleAuthorizer } from './dashboard/auth.js';
import { EventHub } from './dashboard/events.js';
import type {
  Authorizer,
  FleetReads,
  ModelReads,
  Permission,
  RolloutAction,
  RolloutActions,
} from './dashboard/ports.js';
import type { Agent } from './domain/fleet.js';
import type { AgentAdminService } from './fleet/agent-admin.js';
import type { FleetService } from './fleet/service.js';
import type { SiteService } from './fleet/sites.js';
import { NotificationEvaluator } from './notifications/evaluator.js';
import { AlertRuleService } from './notifications/rules.js';
import type { RegistryService } from './registry/service.js';
import { ApiTokenService } from './security/api-tokens.js';
import { type Role, roleAllows } from './security/roles.js';

/** Notifications' own advisory lock (next to schema.ts `leaderLocks`). */
export const NOTIFICATIONS_LOCK_ID = 0x4d570010;

/** The rollout service's operator commands (structural, so this file does not depend on its internals). */
export type RolloutCommands = Record<RolloutAction, (id: string, reason: string, caller: Caller) => Promise<unknown>>;

export interface DashboardWiringDeps {
  config: Readonly<Config>;
  dbh: DbHandle;
  nc: NatsConnection;
  fleet: FleetService;
  admin: AgentAdminService;
  sites: SiteService;
  registry: RegistryService;
  /** Present once the rollout service is wired: enables the rollout actions. */
  rollouts?: RolloutCommands;
  log: Logger;
  metrics: Registry;
}

/** Minimum security role per dashboard permission (security/roles.ts: viewer < trainer < platform < admin). */
const PERMISSION_ROLES: Record<Permission, Role> = {
  read: 'viewer',
  label: 'trainer',
  'rollouts.operate': 'platform',
  'alerts.manage': 'platform',
};

export function createDashboardWiring(deps: DashboardWiringDeps) {
  const { config, dbh } = deps;
  const log = deps.log.child({ component: 'dashboard' });
  const records = new PostgresRecordReads({ sql: dbh.sql });
  const alerts = new AlertRuleService({
    rules: new PostgresAlertRuleStore({ sql: dbh.sql }),
    events: new PostgresNotificationStore({ sql: dbh.sql }),
  });
  const fleet = fleetReads(deps);
  let api: DashboardApi | undefined;
  const hub = new EventHub({
    pollMs: config.dashboard.pollMs,
    snapshot: async () => {
      const overview = await api!.overview();
      const { generatedAtMs: _, ...rest } = overview;
      return { fingerprint: JSON.stringify(rest), data: overview };
    },
    onError: (err) => log.warn({ err }, 'dashboard.poll_failed'),
  });
  api = new DashboardApi({
    fleet,
    records,
    labels: new PostgresLabelWriter({ sql: dbh.sql }),
    auth: authorizer(deps),
    events: hub,
    models: modelReads(deps.registry),
    rollouts: new PostgresRolloutReads({ sql: dbh.sql }),
    ...(deps.rollouts ? { rolloutActions: rolloutActions(deps.rollouts) } : {}),
    alerts,
    now: Date.now,
    signalsWindowMs: config.dashboard.signalsWindowS * 1000,
    log,
  });
  const notifications = notificationLoop(deps, alerts, fleet, records);
  let sub: { unsubscribe(): void } | undefined;
  return {
    routes: config.dashboard.enabled ? [serveAsset, api.route] : [],
    async start(): Promise<void> {
      // Control-plane events (rollout decisions, fleet events) reach viewers as they happen.
      const s = deps.nc.subscribe(subjects.events.any, {
        callback: (err, msg) => {
          if (!err) hub.publish('cp', { subject: msg.subject });
        },
      });
      sub = s;
      await notifications?.start();
    },
    async stop(): Promise<void> {
      sub?.unsubscribe();
      await hub.stop();
      await notifications?.stop();
    },
  };
}

function fleetReads(deps: DashboardWiringDeps): FleetReads {
  return {
    async agents(): Promise<Agent[]> {
      const out: Agent[] = [];
      let token = '';
      do {
        const page = await deps.fleet.listAgents({}, 1000, token);
        out.push(...page.agents.filter((a) => a.health !== 'decommissioned'));
        token = page.nextPageToken;
      } while (token);
      return out;
    },
    agent: (id) => deps.fleet.getAgent(id).catch(() => undefined),
    history: (id, sinceMs, limit) => deps.admin.history(id, sinceMs, limit),
    async sites() {
      const out = [];
      let token = '';
      do {
        const page = await deps.sites.listSites(1000, token);
        out.push(...page.sites);
        token = page.nextPageToken;
      } while (token);
      return out;
    },
  };
}

function modelReads(registry: RegistryService): ModelReads {
  return {
    async models() {
      const { models } = await registry.listModels(1000, '');
      return Promise.all(
        models.map(async (m) => {
          const { versions } = await registry.listVersions(m.name, 1000, '');
          return {
            name: m.name,
            description: m.description,
            aliases: m.aliases,
            versions: versions
              .sort((a, b) => b.sequence - a.sequence)
              .map((v) => ({
                version: v.version,
                sequence: v.sequence,
                runtime: v.manifest.runtime,
                createdAtMs: v.createdAtMs,
                createdBy: v.createdBy,
                sha256: v.sha256,
                sizeBytes: v.sizeBytes,
                aliases: v.aliases,
                parentVersion: v.manifest.lineage.parentVersion,
                datasetSnapshotId: v.manifest.lineage.datasetSnapshotId,
                retrainingRequestId: v.manifest.lineage.retrainingRequestId,
                trainingRunUrl: v.manifest.lineage.trainingRunUrl,
                trainingMetrics: v.manifest.trainingMetrics,
                inputs: v.manifest.inputs.map((i) => i.name),
              })),
          };
        }),
      );
    },
  };
}

/** API tokens of the security feature, or everyone an admin when `auth.disabled` (development). */
function authorizer(deps: DashboardWiringDeps): Authorizer {
  if (deps.config.auth.disabled) return openAuthorizer;
  const tokens = new ApiTokenService({ store: new PostgresApiTokenStore({ db: deps.dbh.db }), now: Date.now });
  const base = roleAuthorizer(async (secret) => {
    const id = await tokens.authenticate(secret).catch(() => undefined);
    return id ? { name: id.name, role: id.role } : undefined;
  });
  return {
    authenticate: base.authenticate,
    allows: (p, perm) => roleAllows(p.role as Role, PERMISSION_ROLES[perm]),
  };
}

function rolloutActions(commands: RolloutCommands): RolloutActions {
  return {
    async act(id, action, reason, p) {
      await commands[action](id, reason, { actor: p.name, source: 'dashboard' });
    },
  };
}

function notificationLoop(
  deps: DashboardWiringDeps,
  alerts: AlertRuleService,
  fleet: FleetReads,
  records: PostgresRecordReads,
) {
  const n = deps.config.notifications;
  if (!n.enabled) return undefined;
  const log = deps.log.child({ component: 'notifications' });
  const leader = new PostgresLeaderElection({
    url: deps.config.database.url,
    lockId: NOTIFICATIONS_LOCK_ID,
    name: 'notifications',
    retryMs: deps.config.leader.retryS * 1000,
    log: deps.log.child({ component: 'leader' }),
  });
  const m = notificationMetrics(deps.metrics);
  leader.onChange((isLeader) => m.leader.set(isLeader ? 1 : 0));
  const rollouts = new PostgresRolloutReads({ sql: deps.dbh.sql });
  const evaluator = new NotificationEvaluator({
    rules: alerts,
    events: new PostgresNotificationStore({ sql: deps.dbh.sql }),
    webhook: new FetchWebhookSender(),
    leader,
    now: Date.now,
    intervalMs: n.intervalS * 1000,
    webhookTimeoutMs: n.webhookTimeoutS * 1000,
    log,
    onDelivery: (outcome, status) => m.deliveries.inc({ outcome, status }),
    source: {
      async snapshot(nowMs) {
        const [agents, signals, list] = await Promise.all([
          fleet.agents(),
          records.signals(nowMs - n.windowS * 1000),
          rollouts.list(200),
        ]);
        return { nowMs, agents, ...signals, rollouts: list };
      },
    },
  });
  return {
    async start() {
      await alerts.applyConfigured(n.rules);
      leader.start();
      evaluator.start();
    },
    async stop() {
      await evaluator.stop();
      await leader.stop();
    },
  };
}

function notificationMetrics(registry: Registry) {
  return {
    leader: new Gauge({
      name: 'mw_notifications_leader',
      help: '1 while this replica evaluates alert rules',
      registers: [registry],
    }),
    deliveries: new Counter({
      name: 'mw_notifications_delivered_total',
      help: 'Webhook deliveries of alert notifications by outcome and status (firing, resolved)',
      labelNames: ['outcome', 'status'],
      registers: [registry],
    }),
  };
}
