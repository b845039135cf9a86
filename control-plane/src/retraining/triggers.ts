import type { DriftReport, RequestStatus, RetrainingPolicy, TriggerKind } from './domain.js';
import { type CronSets, firedBetween } from './schedule.js';

export interface TriggerInput {
  policy: RetrainingPolicy;
  /** Parsed `policy.cron`, when set. */
  cron: CronSets | undefined;
  nowMs: number;
  /** The model's most recent request, if any. */
  lastRequest: { createdAtMs: number; status: RequestStatus } | undefined;
  /** When this model's triggers were last evaluated (the schedule looks at (last, now]). */
  lastEvaluatedMs: number;
  /** Drift of the model's versions per site over the policy's window. */
  drift: readonly DriftReport[];
  /** Labelled samples of the model that arrived since its last request. */
  newLabels: number;
}

export interface TriggerDecision {
  trigger: TriggerKind;
  reason: string;
  /** The version to retrain from (drift names the drifting version; otherwise the policy decides). */
  baseVersion?: string;
}

/**
 * Decides whether a model needs a retraining request now. At most one open request per model;
 * drift and label triggers wait out the cooldown after the last request, a schedule does not.
 */
export function evaluateTriggers(i: TriggerInput): TriggerDecision | undefined {
  const open = i.lastRequest && (i.lastRequest.status === 'pending' || i.lastRequest.status === 'claimed');
  if (open) return undefined;
  if (i.cron && firedBetween(i.cron, i.lastEvaluatedMs, i.nowMs))
    return { trigger: 'schedule', reason: `schedule "${i.policy.cron}"` };
  const cooling = i.lastRequest && i.nowMs - i.lastRequest.createdAtMs < i.policy.cooldownS * 1000;
  if (cooling) return undefined;
  const drift = driftDecision(i.policy, i.drift);
  if (drift) return drift;
  if (i.policy.newLabels > 0 && i.newLabels >= i.policy.newLabels)
    return { trigger: 'labels', reason: `${i.newLabels} new labelled samples (threshold ${i.policy.newLabels})` };
  return undefined;
}

function driftDecision(p: RetrainingPolicy, reports: readonly DriftReport[]): TriggerDecision | undefined {
  let worst: { r: DriftReport; feature: string; psi: number; ks: number } | undefined;
  for (const r of reports) {
    for (const f of r.features) {
      if (f.samples < p.driftMinSamples) continue;
      const over = (p.driftPsi > 0 && f.psi >= p.driftPsi) || (p.driftKs > 0 && f.ks >= p.driftKs);
      if (over && (!worst || f.psi > worst.psi)) worst = { r, feature: f.feature, psi: f.psi, ks: f.ks };
    }
  }
  if (!worst) return undefined;
  const { r } = worst;
  return {
    trigger: 'drift',
    baseVersion: r.version,
    reason: `drift on ${r.siteId}: ${worst.feature} PSI ${worst.psi.toFixed(3)} KS ${worst.ks.toFixed(3)} (version ${r.version})`,
  };
}
