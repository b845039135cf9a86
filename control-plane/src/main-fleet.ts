/** Wiring of the fleet registry's write side (part of main: the only place besides main.ts that wires). */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { EnrollResponder } from './adapters/nats/enroll.js';
import { PostgresAgentAdminStore } from './adapters/postgres/agent-admin-store.js';
import type { Db } from './adapters/postgres/db.js';
import { PostgresEnrollmentStore } from './adapters/postgres/enrollment-store.js';
import { PostgresLeaderElection } from './adapters/postgres/leader.js';
import { leaderLocks } from './adapters/postgres/schema.js';
import { PostgresSiteStore } from './adapters/postgres/site-store.js';
import { PostgresTimelineStore } from './adapters/postgres/timeline-store.js';
import type { Config } from './config.js';
import type { HeartbeatInfo } from './domain/fleet.js';
import { AgentAdminService } from './fleet/agent-admin.js';
import { bootEventRecorder } from './fleet/boot-events.js';
import { type AgentCredentialIssuer, NoopCredentialIssuer } from './fleet/credentials.js';
import { EnrollmentService } from './fleet/enrollment.js';
import { type Clock, type FleetStore, systemClock } from './fleet/ports.js';
import { SiteService } from './fleet/sites.js';
import { HealthSweeper } from './fleet/sweeper.js';
import { BootstrapTokenService } from './fleet/tokens.js';

export interface FleetWiringDeps {
  config: Readonly<Config>;
  db: Db;
  nc: NatsConnection;
  fleetStore: FleetStore;
  log: Logger;
  metrics: Registry;
  /** SECURITY ISSUE: pass the JWT-issuing implementation when decentralised NATS auth is on. */
  credentials?: AgentCredentialIssuer;
  clock?: Clock;
}

/** Builds sites, agent administration, tokens, enrollment and the health sweeper with its leader election. */
export function createFleetWiring(deps: FleetWiringDeps) {
  const { config, db, log } = deps;
  const clock = deps.clock ?? systemClock;
  const credentials = deps.credentials ?? new NoopCredentialIssuer();
  const thresholds = {
    staleAfterMs: config.health.staleAfterS * 1000,
    offlineAfterMs: config.health.offlineAfterS * 1000,
  };
  const timeline = new PostgresTimelineStore({ db, thresholds });
  const enrollStore = new PostgresEnrollmentStore({ db });
  const m = fleetMetrics(deps.metrics);
  const enrollLog = log.child({ component: 'fleet.enroll' });
  const enrollment = new EnrollmentService({
    store: enrollStore,
    credentials,
    clock,
    log: enrollLog,
    onOutcome: (outcome) => m.enrollments.inc({ outcome }),
  });
  const responder = new EnrollResponder({
    nc: deps.nc,
    enrollment,
    log: enrollLog,
    onRejected: (outcome) => m.enrollments.inc({ outcome }),
  });
  const leader = new PostgresLeaderElection({
    url: config.database.url,
    lockId: leaderLocks.fleetSweeper,
    name: 'fleet_sweeper',
    retryMs: config.leader.retryS * 1000,
    log: log.child({ component: 'leader' }),
  });
  leader.onChange((isLeader) => m.leader.set({ lock: 'fleet_sweeper' }, isLeader ? 1 : 0));
  const sweeper = new HealthSweeper({
    store: timeline,
    leader,
    clock,
    thresholds,
    retentionMs: config.health.historyRetentionDays * 24 * 3600 * 1000,
    intervalMs: config.health.sweepIntervalS * 1000,
    log: log.child({ component: 'fleet.sweeper' }),
    onSweep: (r) => {
      m.sweeps.inc();
      m.transitions.inc(r.transitions);
    },
  });
  const onHeartbeatsApplied: (beats: HeartbeatInfo[]) => Promise<void> = bootEventRecorder({
    store: timeline,
    log: log.child({ component: 'fleet.timeline' }),
  });
  return {
    api: {
      admin: new AgentAdminService({
        fleet: deps.fleetStore,
        admin: new PostgresAgentAdminStore({ db }),
        timeline,
        credentials,
        clock,
      }),
      sites: new SiteService({ store: new PostgresSiteStore({ db }) }),
      tokens: new BootstrapTokenService({ store: enrollStore, clock }),
    },
    onHeartbeatsApplied,
    start(): void {
      m.leader.set({ lock: 'fleet_sweeper' }, 0);
      responder.start();
      leader.start();
      sweeper.start();
    },
    /** Stops answering enrollments, stops sweeping and gives up leadership. */
    async stop(): Promise<void> {
      await responder.stop();
      await sweeper.stop();
      await leader.stop();
    },
  };
}

function fleetMetrics(registry: Registry) {
  return {
    enrollments: new Counter({
      name: 'mw_enrollments_total',
      help: 'Enrollment requests by outcome (enrolled, reenrolled or the refusal code)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    leader: new Gauge({
      name: 'mw_leader',
      help: '1 while this replica holds the leadership lock',
      labelNames: ['lock'],
      registers: [registry],
    }),
    sweeps: new Counter({
      name: 'mw_fleet_sweeps_total',
      help: 'Health sweeps run (leader only)',
      registers: [registry],
    }),
    transitions: new Counter({
      name: 'mw_fleet_timeline_entries_total',
      help: 'Health transitions written to the agent timeline',
      registers: [registry],
    }),
  };
}
