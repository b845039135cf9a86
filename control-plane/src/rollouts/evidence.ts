/** Gathers what a stage's gates look at: member states and ModelStats of canary and baseline agents. */
import type { RolloutDeps } from './deps.js';
import type { Member, MemberState, Rollout, TargetAgent } from './domain.js';
import { EMPTY_TOTALS, type StageEvidence, type StatsTotals } from './gates.js';

const PASSED_SELF_TEST: ReadonlySet<MemberState> = new Set(['waiting_window', 'shadowing', 'active', 'rolled_back']);
const SETTLING: ReadonlySet<MemberState> = new Set([
  'notified',
  'downloading',
  'verifying',
  'self_testing',
  'waiting_window',
]);
const STATS_METRICS = new Set(['error_rate', 'latency_p99_us', 'anomaly_rate_delta', 'shadow_disagreement']);
/** The baseline looks back at least this far when it must use the cohort's own time before the stage. */
const MIN_LOOKBACK_MS = 60_000;

/** Members of the stages reached so far (the cohort the gates judge). */
export function cohortOf(r: Rollout, members: readonly Member[]): Member[] {
  return members.filter((m) => m.stage <= r.currentStage && m.state !== 'excluded');
}

export async function gatherEvidence(
  deps: RolloutDeps,
  r: Rollout,
  members: readonly Member[],
  targetById: ReadonlyMap<string, TargetAgent>,
  nowMs: number,
): Promise<StageEvidence> {
  const stage = r.spec.stages[r.currentStage]!;
  const cohort = cohortOf(r, members);
  const told = cohort.filter((m) => m.state !== 'pending');
  const activeState: MemberState = stage.shadow ? 'shadowing' : 'active';
  const active = told.filter((m) => m.state === activeState).length;
  const needsStats = stage.gates.some((g) => g.metric && STATS_METRICS.has(g.metric));
  const stats = needsStats
    ? await cohortStats(deps, r, members, cohort, nowMs)
    : { canary: EMPTY_TOTALS, baseline: EMPTY_TOTALS };
  return {
    ...stats,
    selfTestPassed: told.filter((m) => PASSED_SELF_TEST.has(m.state)).length,
    selfTestFailed: told.filter((m) => m.state === 'failed').length,
    active,
    eligible: told.filter((m) => m.state === activeState || targetById.get(m.agentId)?.online).length,
    shadowStage: stage.shadow,
    settling: told.filter((m) => SETTLING.has(m.state) && targetById.get(m.agentId)?.online).length,
  };
}

async function cohortStats(
  deps: RolloutDeps,
  r: Rollout,
  members: readonly Member[],
  cohort: readonly Member[],
  nowMs: number,
): Promise<{ canary: StatsTotals; baseline: StatsTotals }> {
  const stage = r.spec.stages[r.currentStage]!;
  const from = r.stageStartedAtMs;
  const version = r.spec.version;
  const cohortIds = cohort.map((m) => m.agentId);
  // In a shadow stage the active (old) model's stats carry the shadow comparison.
  const canary = await deps.store.stats({
    agentIds: cohortIds,
    fromMs: from,
    toMs: nowMs,
    version,
    onVersion: !stage.shadow,
  });
  const baselineIds = members.filter((m) => m.stage > r.currentStage && m.state === 'pending').map((m) => m.agentId);
  let baseline = baselineIds.length
    ? await deps.store.stats({ agentIds: baselineIds, fromMs: from, toMs: nowMs, version, onVersion: false })
    : EMPTY_TOTALS;
  if (baseline.inferences === 0) {
    // Nobody left on the old version (last stage): compare with the cohort before the stage started.
    const span = Math.max(nowMs - from, MIN_LOOKBACK_MS);
    baseline = await deps.store.stats({
      agentIds: cohortIds,
      fromMs: from - span,
      toMs: from,
      version,
      onVersion: false,
    });
  }
  return { canary, baseline };
}
