/**
 * Read ports of the dashboard. Each feature (fleet, records, registry, rollouts, security) plugs in
 * through one small interface, so a page appears as soon as its feature is wired in main-dashboard.ts.
 */
import type { Agent } from '../domain/fleet.js';
import type { TimelineEntry } from '../domain/timeline.js';

/** One contributing feature of a prediction, as the agent explained it. */
export interface ReasonView {
  feature: string;
  value: number;
  unit: string;
  contribution: number;
  baseline: number | null;
  text: string;
}

export type LabelKind = 'confirmed_failure' | 'false_alarm' | 'normal';
export const LABEL_KINDS: readonly LabelKind[] = ['confirmed_failure', 'false_alarm', 'normal'];

export interface PredictionView {
  predictionId: string;
  tsMs: number;
  asset: string;
  modelVersion: string;
  score: number;
  decision: 'normal' | 'alert' | 'unknown';
  latencyUs: number;
  reasons: ReasonView[];
  /** The latest operator label given to this prediction, if any. */
  label: { kind: string; operator: string; atMs: number } | null;
}

/** A point of a chart series: time and value (null for a gap). */
export interface SeriesPoint {
  t: number;
  v: number | null;
}

export interface ChannelCleaning {
  channel: string;
  points: number;
  nanOrInf: number;
  outOfRange: number;
  spikes: number;
  stuck: number;
  gaps: number;
  calibrationDrift: boolean;
  driftScore: number;
}

export interface AgentSeries {
  /** Fraction of predictions with decision alert, per bucket. */
  anomalyRate: SeriesPoint[];
  /** Predictions per bucket. */
  predictions: SeriesPoint[];
  /** Worst p99 inference latency per bucket, microseconds. */
  latencyP99Us: SeriesPoint[];
  /** Highest drift score of any channel per bucket. */
  drift: SeriesPoint[];
}

/** Signals that need attention fleet-wide, computed from recent records. */
export interface FleetSignals {
  /** agent -> the most drifted channel in the window. */
  drift: Map<string, { channel: string; score: number; flagged: boolean }>;
  /** agent -> records the buffer dropped in the window. */
  drops: Map<string, number>;
}

/** Telemetry reads over the `records` table (Postgres in production). */
export interface RecordReads {
  predictions(agentId: string, limit: number): Promise<PredictionView[]>;
  series(agentId: string, sinceMs: number, bucketMs: number): Promise<AgentSeries>;
  cleaning(agentId: string, sinceMs: number): Promise<ChannelCleaning[]>;
  signals(sinceMs: number): Promise<FleetSignals>;
  /** A prediction's agent, or undefined when no such prediction was stored. */
  predictionAgent(predictionId: string): Promise<string | undefined>;
}

export interface FleetReads {
  /** Every non-decommissioned agent (the dashboard is for fleets of up to a few thousand). */
  agents(): Promise<Agent[]>;
  agent(id: string): Promise<Agent | undefined>;
  history(id: string, sinceMs: number, limit: number): Promise<TimelineEntry[]>;
  sites(): Promise<{ id: string; displayName: string; lines: { id: string; displayName: string }[] }[]>;
}

export interface ModelVersionView {
  version: string;
  sequence: number;
  runtime: string;
  createdAtMs: number;
  createdBy: string;
  sha256: string;
  sizeBytes: number;
  aliases: string[];
  parentVersion: string;
  datasetSnapshotId: string;
  retrainingRequestId: string;
  trainingRunUrl: string;
  trainingMetrics: Record<string, number>;
  inputs: string[];
}

export interface ModelView {
  name: string;
  description: string;
  aliases: Record<string, string>;
  versions: ModelVersionView[];
}

export interface ModelReads {
  models(): Promise<ModelView[]>;
}

/** One gate evaluation: its value against its threshold. */
export interface GateView {
  name: string;
  value: number | null;
  threshold: number | null;
  passed: boolean | null;
  detail: string;
}

export interface RolloutSummary {
  id: string;
  model: string;
  version: string;
  previousVersion: string;
  status: string;
  statusReason: string;
  currentStage: number;
  stages: { name: string; percent: number | null; minDurationS: number | null }[];
  targetSize: number;
  /** member state -> count, per stage. */
  members: { stage: number; role: string; state: string; count: number }[];
  gates: GateView[];
  decisions: { atMs: number; kind: string; stage: number; actor: string; reason: string }[];
  createdBy: string;
  createdAtMs: number;
  updatedAtMs: number;
}

export interface RolloutReads {
  list(limit: number): Promise<RolloutSummary[]>;
  get(id: string): Promise<RolloutSummary | undefined>;
}

export type RolloutAction = 'pause' | 'resume' | 'promote' | 'abort' | 'rollback';
export const ROLLOUT_ACTIONS: readonly RolloutAction[] = ['pause', 'resume', 'promote', 'abort', 'rollback'];

/** Operator actions on rollouts; wired to the rollout service when it exists. */
export interface RolloutActions {
  act(id: string, action: RolloutAction, reason: string, principal: Principal): Promise<void>;
}

/** Writes operator labels (`operator_labels`) and their audit entries. */
export interface LabelWriter {
  write(l: {
    predictionId: string;
    agentId: string;
    kind: LabelKind;
    note: string;
    operator: string;
    role: string;
  }): Promise<{ id: number }>;
}

/** Who is asking: the holder of a verified API token, or the anonymous user when security is off. */
export interface Principal {
  name: string;
  role: string;
}

/** What the dashboard may ask the authorizer about. */
export type Permission = 'read' | 'label' | 'rollouts.operate' | 'alerts.manage';

/**
 * Turns a bearer token into a principal and answers permission questions. The security feature
 * supplies the real one; without it every caller is the anonymous operator.
 */
export interface Authorizer {
  /** undefined when the token is missing or not valid (the API then answers 401). */
  authenticate(bearer: string | undefined): Promise<Principal | undefined>;
  allows(p: Principal, perm: Permission): boolean;
}
