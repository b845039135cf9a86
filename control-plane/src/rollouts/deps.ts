import type { Logger } from 'pino';
import type { AuditLog } from '../audit/ports.js';
import type {
  Clock,
  DesiredStateBus,
  DesiredStore,
  RolloutEvents,
  RolloutMetrics,
  RolloutStore,
  VersionCatalog,
} from './ports.js';

export interface RolloutOptions {
  /** Reconcile period of the controller. @default 1000 */
  tickMs: number;
  /** An agent updating longer than this stops holding its site's parallel-update slot. @default 600000 */
  stuckAfterMs: number;
  /** Desired states whose KV write is pending this long are written again. @default 2000 */
  kvRepairAfterMs: number;
}

export const DEFAULT_ROLLOUT_OPTIONS: RolloutOptions = Object.freeze({
  tickMs: 1000,
  stuckAfterMs: 600_000,
  kvRepairAfterMs: 2000,
});

/** Everything the rollout controller and service share; built once in main-rollouts.ts. */
export interface RolloutDeps {
  store: RolloutStore;
  desired: DesiredStore;
  bus: DesiredStateBus;
  catalog: VersionCatalog;
  events: RolloutEvents;
  metrics: RolloutMetrics;
  audit: AuditLog;
  clock: Clock;
  newId: () => string;
  log: Logger;
  options: RolloutOptions;
}
