/** What the rollout use cases need from the outside world; in-memory fakes live in `fakes.ts`. */
import type { AuditEntry } from '../audit/ports.js';
import type { VersionSignature } from '../registry/domain.js';
import type { ConfigLayer } from './config-layers.js';
import type { Decision, Member, MemberState, Rollout, RolloutStatus, Selector, TargetAgent } from './domain.js';
import type { StatsTotals } from './gates.js';

export interface RolloutFilter {
  model?: string;
  statuses?: readonly RolloutStatus[];
  limit: number;
  /** Rollouts created before this one (keyset by created_at, id). */
  afterId?: string;
}

/** A change of a rollout row, with the decision (and audit entry) that explains it, in one transaction. */
export interface RolloutChange {
  patch: Partial<Pick<Rollout, 'status' | 'statusReason' | 'currentStage' | 'stageStartedAtMs' | 'targetSize'>>;
  decision?: Decision;
  audit?: AuditEntry;
  /** Only apply while the rollout has one of these statuses (compare-and-set); false is returned otherwise. */
  expectStatus?: readonly RolloutStatus[];
  /** Only apply while the rollout is at this stage. */
  expectStage?: number;
  /** Config layers to store as this rollout's (a config rollout that succeeded). */
  addLayers?: ConfigLayer[];
  /** Delete the config layers this rollout stored (rolled back after it succeeded). */
  dropLayers?: boolean;
}

/**
 * Rollouts, their members and decisions (Postgres `rollouts`, `rollout_members`, `rollout_decisions`).
 */
export interface RolloutStore {
  /**
   * Inserts a rollout with its members, first decision and audit entry, unless an active rollout's
   * selector overlaps (checked under a lock, so two starts cannot both pass).
   * @throws PreconditionError naming the conflicting rollout.
   */
  create(r: Rollout, members: Member[], decision: Decision, audit: AuditEntry): Promise<void>;
  get(id: string): Promise<Rollout | undefined>;
  list(filter: RolloutFilter): Promise<Rollout[]>;
  /** Applies a change; false when `expectStatus`/`expectStage` no longer hold. */
  change(id: string, change: RolloutChange): Promise<boolean>;
  members(id: string): Promise<Member[]>;
  /** Inserts joiners; a member that had left (`excluded`) and matches again re-joins with the given stage and state. */
  addMembers(id: string, members: Member[]): Promise<void>;
  /** Sets member states; with `onlyFrom`, only members currently in one of those states change. */
  setMemberStates(
    id: string,
    updates: { agentId: string; state: MemberState; reason: string }[],
    onlyFrom?: readonly MemberState[],
  ): Promise<void>;
  decisions(id: string, limit: number): Promise<Decision[]>;
  appendDecision(d: Decision): Promise<void>;
  /** Agents the selector picks, minus pinned and decommissioned ones; `online` by last heartbeat. */
  targetAgents(sel: Selector, nowMs: number): Promise<TargetAgent[]>;
  /**
   * Summed ModelStats of each agent over its own window: the intervals that started at or after
   * `fromMs` and were reported before `toMs` (agent clock, as the records carry it). With `version`,
   * only the intervals on that version (`onVersion`) or on any other; without it, every version.
   */
  stats(q: { windows: StatsWindow[]; version?: { version: string; onVersion: boolean } }): Promise<StatsTotals>;
  /**
   * When each agent first reported, in this rollout, the config of the desired state the rollout last
   * wrote to it (`config_generation` >= that generation); agents that have not are absent.
   */
  configAppliedAt(rolloutId: string, agentIds: string[]): Promise<Map<string, number>>;
  /** Time zone and maintenance windows per site. */
  sites(ids: string[]): Promise<Map<string, SiteWindows>>;
  configLayers(): Promise<ConfigLayer[]>;
  /** The running model version reported per agent. */
  runningVersions(agentIds: string[]): Promise<Map<string, string>>;
  setFleetSetting(key: string, value: Record<string, unknown>, actor: string): Promise<void>;
}

/** One agent's time window of ModelStats evidence. */
export interface StatsWindow {
  agentId: string;
  fromMs: number;
  toMs: number;
}

export interface SiteWindows {
  timeZone: string;
  windows: { cron: string; durationS: number }[];
}

/** One model version as the desired state names it. */
export interface DesiredModelRef {
  model: string;
  version: string;
  sha256: string;
  sizeBytes: number;
  signature: VersionSignature;
}

export interface SwitchPolicySpec {
  condition: string;
  force: boolean;
  windows: { cron: string; durationS: number }[];
  timeZone: string;
}

/** An agent's desired state without its short-lived URL (that is added when written to KV). */
export interface DesiredSpec {
  agentId: string;
  siteId: string;
  generation: number;
  model: DesiredModelRef | undefined;
  shadow: DesiredModelRef | undefined;
  switchPolicy: SwitchPolicySpec;
  config: Record<string, unknown> | undefined;
  rolloutId: string;
  reason: string;
  issuedAtMs: number;
  /**
   * Re-signatures by the active key of versions the agent runs or falls back to besides `model` and
   * `shadow`, written by a signing-key change (registry/keys.ts); kept by later writes until the next.
   */
  resignatures?: { model: string; version: string; signature: VersionSignature }[];
}

/** Desired states, the source of truth in Postgres `desired_states`. */
export interface DesiredStore {
  /**
   * In one transaction, reads each agent's current desired state, asks `build` for the next one and
   * stores it with generation + 1. Returns what was stored.
   */
  update(
    agents: { agentId: string; siteId: string }[],
    build: (agentId: string, current: DesiredSpec | undefined) => Omit<DesiredSpec, 'generation'>,
  ): Promise<DesiredSpec[]>;
  get(agentId: string): Promise<DesiredSpec | undefined>;
  /** Rows whose KV write is still pending, older than `olderThanMs`. */
  pendingKv(olderThanMs: number, limit: number): Promise<DesiredSpec[]>;
  markWritten(written: { agentId: string; generation: number; revision: number }[]): Promise<void>;
}

/** Writes desired states to KV `mw_desired` (with fresh presigned URLs); never lowers a key's generation. */
export interface DesiredStateBus {
  publish(states: DesiredSpec[]): Promise<{ agentId: string; generation: number; revision: number }[]>;
}

/** The model registry as rollouts use it. */
export interface VersionCatalog {
  /** @throws NotFoundError */
  version(model: string, version: string): Promise<DesiredModelRef & { sequence: number }>;
  /** Signs SignedPayload{rollback: true, rollback_from: from} for (model, version). */
  signRollback(model: string, version: string, from: string): Promise<VersionSignature>;
  alias(model: string, alias: string): Promise<string | undefined>;
  moveAlias(model: string, alias: string, version: string, actor: string, reason: string): Promise<void>;
}

/** Live progress for watchers (`mw.v1.cp.events.rollout.<id>`); best effort. */
export interface RolloutEvents {
  decision(d: Decision): void;
}

/** Metrics the controller updates. */
export interface RolloutMetrics {
  decision(kind: string): void;
  stage(rolloutId: string, stage: number | undefined): void;
}

export interface Clock {
  now(): number;
}
