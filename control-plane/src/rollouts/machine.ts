/** The stage machine of one running rollout: pure, driven by an injected clock value. */

import type { GateResult } from './domain.js';
import { type Rollout, stageTimeoutMs } from './domain.js';
import type { StageVerdict } from './gates.js';

export type TickAction =
  | { kind: 'wait'; reason: string; gates: GateResult[] }
  | { kind: 'advance'; to: number; gates: GateResult[] }
  | { kind: 'succeed'; gates: GateResult[] }
  | { kind: 'fail'; gates: GateResult[]; reason: string }
  | { kind: 'timeout'; gates: GateResult[]; reason: string };

/**
 * What a running rollout does now. A failing (or missing) gate acts at once, even while baking: bad
 * evidence never waits. Passing needs the bake time; insufficient data waits until the stage timeout.
 */
export function decideStage(r: Rollout, nowMs: number, verdict: StageVerdict): TickAction {
  const stage = r.spec.stages[r.currentStage];
  if (!stage) return { kind: 'fail', gates: [], reason: `stage ${r.currentStage} does not exist` };
  if (verdict.kind === 'fail') return { kind: 'fail', gates: verdict.gates, reason: verdict.reason };
  const elapsed = nowMs - r.stageStartedAtMs;
  if (elapsed >= stageTimeoutMs(stage) && verdict.kind === 'insufficient') {
    const reason = `stage ${stage.name || r.currentStage} timed out after ${Math.round(elapsed / 1000)} s without enough data: ${verdict.reason}`;
    return { kind: 'timeout', gates: verdict.gates, reason };
  }
  if (elapsed < stage.bakeS * 1000) {
    return {
      kind: 'wait',
      gates: verdict.gates,
      reason: `baking: ${Math.ceil((stage.bakeS * 1000 - elapsed) / 1000)} s left`,
    };
  }
  if (verdict.kind === 'insufficient') return { kind: 'wait', gates: verdict.gates, reason: verdict.reason };
  if (r.currentStage >= r.spec.stages.length - 1) return { kind: 'succeed', gates: verdict.gates };
  return { kind: 'advance', to: r.currentStage + 1, gates: verdict.gates };
}
