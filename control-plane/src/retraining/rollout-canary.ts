import type { Caller } from '../audit/ports.js';
import type { Gate, Rollout, RolloutSpec } from '../rollouts/domain.js';
import type { CanaryStarter } from './ports.js';

/** The one rollout-controller call the auto-canary needs (RolloutService.start). */
export type StartRollout = (spec: RolloutSpec, caller: Caller) => Promise<Rollout>;

/** Gates of both stages: the retrained model must load, run without errors and not raise more alerts. */
export const CANARY_GATES: readonly Gate[] = [
  { metric: 'active_fraction', threshold: 0.9, minSamples: 1 },
  { metric: 'error_rate', threshold: 0.01, minSamples: 100 },
  { metric: 'anomaly_rate_delta', threshold: 0.05, minSamples: 100 },
];

/** The canary stage bakes this long before its gates may pass it on. */
export const CANARY_BAKE_S = 3600;

/**
 * The auto-canary through the rollout controller: `percent` of the fleet first, baked for an hour
 * behind gates, then the rest; a failed gate rolls back. An operator can pause or abort it like any
 * other rollout.
 */
export function rolloutCanaryStarter(start: StartRollout): CanaryStarter {
  return {
    async start(c) {
      const spec: RolloutSpec = {
        model: c.model,
        version: c.version,
        target: { siteIds: [], labels: {}, excludeAgentIds: [] },
        stages: [
          {
            name: 'canary',
            percent: c.percent,
            bakeS: CANARY_BAKE_S,
            gates: [...CANARY_GATES],
            shadow: false,
            timeoutS: 0,
          },
          { name: 'full', percent: 100, bakeS: 0, gates: [...CANARY_GATES], shadow: false, timeoutS: 0 },
        ],
        failureAction: 'rollback',
        maxParallelPerSite: 0,
        switchCondition: '',
        force: false,
        reason: c.reason,
        config: undefined,
        promoteAlias: '',
      };
      const r = await start(spec, { actor: 'retraining', source: 'retraining-policy' });
      return { rolloutId: r.id };
    },
  };
}
