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
    cohort: cohort.length,
  };
}

type CohortStats = { canary: StatsTotals; baseline: StatsTotals };

function cohortStats(
  deps: RolloutDeps,
  r: Rollout,
  members: readonly Member[],
  cohort: readonly Member[],
  nowMs: number,
): Promise<CohortStats> {
  return r.spec.version ? modelStats(deps, r, members, cohort, nowMs) : configStats(deps, r, members, cohort, nowMs);
}

/** Target agents of later stages that were not told yet: they run what the cohort ran before. */
function notTold(r: Rollout, members: readonly Member[]): string[] {
  return members.filter((m) => m.stage > r.currentStage && m.state === 'pending').map((m) => m.agentId);
}

const windows = (ids: readonly string[], fromMs: number, toMs: number) =>
  ids.map((agentId) => ({ agentId, fromMs, toMs }));

/** A model rollout tells the candidate apart by version: the cohort on it, the rest on any other. */
async function modelStats(
  deps: RolloutDeps,
  r: Rollout,
  members: readonly Member[],
  cohort: readonly Member[],
  nowMs: number,
): Promise<CohortStats> {
  const stage = r.spec.stages[r.currentStage]!;
  const from = r.stageStartedAtMs;
  const version = r.spec.version;
  const cohortIds = cohort.map((m) => m.agentId);
  // In a shadow stage the active (old) model's stats carry the shadow comparison.
  const canary = await deps.store.stats({
    windows: windows(cohortIds, from, nowMs),
    version: { version, onVersion: !stage.shadow },
  });
  const other = { version, onVersion: false };
  let baseline = await deps.store.stats({ windows: windows(notTold(r, members), from, nowMs), version: other });
  if (baseline.inferences === 0) {
    // Nobody left on the old version (last stage): compare with the cohort before the stage started.
    const span = Math.max(nowMs - from, MIN_LOOKBACK_MS);
    baseline = await deps.store.stats({ windows: windows(cohortIds, from - span, from), version: other });
  }
  return { canary, baseline };
}

/**
 * A config-only rollout does not change the version, so it tells the config apart by agent and time:
 * the canary is each cohort member since it reported the rollout's config in effect (and since the
 * stage started), the baseline the target agents not told yet over the stage.
 */
async function configStats(
  deps: RolloutDeps,
  r: Rollout,
  members: readonly Member[],
  cohort: readonly Member[],
  nowMs: number,
): Promise<CohortStats> {
  const from = r.stageStartedAtMs;
  const applied = await deps.store.configAppliedAt(
    r.id,
    cohort.map((m) => m.agentId),
  );
  const took = [...applied].map(([agentId, atMs]) => ({ agentId, fromMs: Math.max(atMs, from), toMs: nowMs }));
  const canary = await deps.store.stats({ windows: took });
  let baseline = await deps.store.stats({ windows: windows(notTold(r, members), from, nowMs) });
  if (baseline.inferences === 0) {
    // Nobody left without the config (last stage): the cohort before the stage started, while it did
    // not have the config yet (as a model rollout compares with the cohort before, on other versions).
    const span = Math.max(nowMs - from, MIN_LOOKBACK_MS);
    const before = cohort
      .map((m) => ({ agentId: m.agentId, fromMs: from - span, toMs: Math.min(applied.get(m.agentId) ?? from, from) }))
      .filter((w) => w.toMs > w.fromMs);
    baseline = await deps.store.stats({ windows: before });
  }
  return { canary, baseline };
}
