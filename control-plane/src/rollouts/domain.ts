/** Rollout domain: specs, stages, gates, members and decisions. Plain types and rules, no I/O. */
import { InvalidArgumentError } from '../domain/errors.js';

export type GateMetric =
  | 'self_test_pass_rate'
  | 'error_rate'
  | 'latency_p99_us'
  | 'anomaly_rate_delta'
  | 'shadow_disagreement'
  | 'active_fraction';

export const GATE_METRICS: readonly GateMetric[] = [
  'self_test_pass_rate',
  'error_rate',
  'latency_p99_us',
  'anomaly_rate_delta',
  'shadow_disagreement',
  'active_fraction',
];

/** Metrics that pass when the value is at least the threshold; the others pass at or below it. */
export const HIGHER_IS_BETTER: ReadonlySet<GateMetric> = new Set(['self_test_pass_rate', 'active_fraction']);

export interface Gate {
  /** Undefined when the request named no (or an unknown) metric: the gate then fails closed. */
  metric: GateMetric | undefined;
  threshold: number;
  minSamples: number;
}

export interface Stage {
  name: string;
  /** Cumulative share of the target (0 < percent <= 100). */
  percent: number;
  bakeS: number;
  gates: Gate[];
  shadow: boolean;
  /** 0 = the default (1 h). */
  timeoutS: number;
}

export type FailureAction = 'rollback' | 'pause';

export type RolloutStatus = 'running' | 'paused' | 'succeeded' | 'rolled_back' | 'aborted' | 'failed';

export const ACTIVE_STATUSES: readonly RolloutStatus[] = ['running', 'paused'];

export interface Selector {
  siteIds: string[];
  labels: Record<string, string>;
  excludeAgentIds: string[];
}

export interface RolloutSpec {
  model: string;
  /** '' for a config-only rollout. */
  version: string;
  target: Selector;
  stages: Stage[];
  failureAction: FailureAction;
  /** 0 = no cap. */
  maxParallelPerSite: number;
  switchCondition: string;
  force: boolean;
  reason: string;
  /** Agent-config layer moved by this rollout (undefined = none). */
  config: Record<string, unknown> | undefined;
  promoteAlias: string;
}

export type GateOutcome = 'pass' | 'fail' | 'insufficient' | 'missing';

export interface GateResult {
  metric: GateMetric | undefined;
  value: number;
  baselineValue: number;
  threshold: number;
  samples: number;
  outcome: GateOutcome;
  detail: string;
}

/**
 * Where one agent of a rollout stands. `pending`: chosen for a stage not reached yet (or held by the
 * per-site cap); `notified`: desired state written; then what the agent reports; `reverting`/`reverted`:
 * sent back to the previous version; `excluded`: left the target (pinned, decommissioned).
 */
export type MemberState =
  | 'pending'
  | 'notified'
  | 'downloading'
  | 'verifying'
  | 'self_testing'
  | 'waiting_window'
  | 'shadowing'
  | 'active'
  | 'failed'
  | 'rolled_back'
  | 'reverting'
  | 'reverted'
  | 'excluded';

/** States that hold one of a site's parallel-update slots. */
export const UPDATING_STATES: ReadonlySet<MemberState> = new Set([
  'notified',
  'downloading',
  'verifying',
  'self_testing',
]);

export interface Member {
  agentId: string;
  siteId: string;
  stage: number;
  role: 'target' | 'baseline';
  state: MemberState;
  reason: string;
  updatedAtMs: number;
}

export interface Rollout {
  id: string;
  spec: RolloutSpec;
  status: RolloutStatus;
  statusReason: string;
  currentStage: number;
  stageStartedAtMs: number;
  previousVersion: string;
  targetSize: number;
  createdBy: string;
  createdAtMs: number;
  updatedAtMs: number;
}

export type DecisionKind =
  | 'started'
  | 'stage_advanced'
  | 'gate_failed'
  | 'rolled_back'
  | 'paused'
  | 'resumed'
  | 'promoted'
  | 'aborted'
  | 'succeeded'
  | 'stage_timeout'
  | 'agent_joined';

export interface Decision {
  rolloutId: string;
  atMs: number;
  kind: DecisionKind;
  stage: number;
  gates: GateResult[];
  actor: string;
  reason: string;
}

/** One agent as the target selector sees it. */
export interface TargetAgent {
  id: string;
  siteId: string;
  lineId: string;
  labels: Record<string, string>;
  online: boolean;
}

export const DEFAULT_STAGE_TIMEOUT_S = 3600;
export const DEFAULT_PROMOTE_ALIAS = 'production';
export const CONTROLLER_ACTOR = 'rollout-controller';

/** Whether an agent falls in the selector (empty lists mean any). */
export function matches(sel: Selector, a: Pick<TargetAgent, 'id' | 'siteId' | 'labels'>): boolean {
  if (sel.excludeAgentIds.includes(a.id)) return false;
  if (sel.siteIds.length > 0 && !sel.siteIds.includes(a.siteId)) return false;
  return Object.entries(sel.labels).every(([k, v]) => a.labels[k] === v);
}

/** Two selectors can pick the same agent unless their site lists are disjoint or a label differs. */
export function selectorsOverlap(a: Selector, b: Selector): boolean {
  if (a.siteIds.length > 0 && b.siteIds.length > 0 && !a.siteIds.some((s) => b.siteIds.includes(s))) return false;
  for (const [k, v] of Object.entries(a.labels)) {
    const other = b.labels[k];
    if (other !== undefined && other !== v) return false;
  }
  return true;
}

/** `model@version`, or `config of model` for a config-only rollout: for reasons and logs. */
export function rolloutSubject(spec: Pick<RolloutSpec, 'model' | 'version'>): string {
  return spec.version ? `${spec.model}@${spec.version}` : `config of ${spec.model}`;
}

export function stageTimeoutMs(stage: Stage): number {
  return (stage.timeoutS || DEFAULT_STAGE_TIMEOUT_S) * 1000;
}

/**
 * Checks a spec before it is planned or started.
 * @throws InvalidArgumentError naming the field (`spec.stages[1].percent`, ...).
 */
export function validateSpec(spec: RolloutSpec): void {
  if (!spec.model) throw new InvalidArgumentError('spec.model', 'required');
  if (!spec.version && !spec.config) throw new InvalidArgumentError('spec.version', 'required (or spec.config)');
  if (spec.stages.length === 0) throw new InvalidArgumentError('spec.stages', 'at least one stage');
  for (const [i, s] of spec.stages.entries()) validateStage(s, i, spec);
  const last = spec.stages.at(-1)!;
  if (last.percent !== 100)
    throw new InvalidArgumentError(`spec.stages[${spec.stages.length - 1}].percent`, 'the last stage must reach 100');
  if (spec.maxParallelPerSite < 0) throw new InvalidArgumentError('spec.max_parallel_per_site', 'must be >= 0');
}

function validateStage(s: Stage, i: number, spec: RolloutSpec): void {
  const f = `spec.stages[${i}]`;
  const before = i > 0 ? spec.stages[i - 1]!.percent : 0;
  if (!(s.percent > 0 && s.percent <= 100)) throw new InvalidArgumentError(`${f}.percent`, 'must be in (0, 100]');
  if (s.percent <= before) throw new InvalidArgumentError(`${f}.percent`, `must grow (previous stage: ${before})`);
  if (s.shadow && !spec.version) throw new InvalidArgumentError(`${f}.shadow`, 'a shadow stage needs a model version');
  for (const [j, g] of s.gates.entries()) {
    const gf = `${f}.gates[${j}]`;
    if (!g.metric) throw new InvalidArgumentError(`${gf}.metric`, 'required');
    if (!Number.isFinite(g.threshold)) throw new InvalidArgumentError(`${gf}.threshold`, 'must be a number');
    if (g.metric === 'shadow_disagreement' && !s.shadow) {
      throw new InvalidArgumentError(`${gf}.metric`, 'shadow_disagreement needs a shadow stage');
    }
  }
}
