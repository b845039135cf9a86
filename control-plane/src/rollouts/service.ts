import type { Caller } from '../audit/ports.js';
import { NotFoundError, PreconditionError } from '../domain/errors.js';
import { assignStages } from './cohort.js';
import type { RolloutDeps } from './deps.js';
import {
  ACTIVE_STATUSES,
  DEFAULT_PROMOTE_ALIAS,
  type Decision,
  type DecisionKind,
  type Gate,
  type GateResult,
  type Member,
  type Rollout,
  type RolloutSpec,
  type RolloutStatus,
  rolloutSubject,
  selectorsOverlap,
  type TargetAgent,
  validateSpec,
} from './domain.js';
import { gatherEvidence } from './evidence.js';
import { evaluateStage } from './gates.js';
import type { RolloutChange } from './ports.js';
import { decision, reconcileRevert, record } from './reconcile.js';

export interface PlannedStage {
  name: string;
  agentIds: string[];
  gates: Gate[];
  downloadBytes: number;
  bakeS: number;
}

export interface Plan {
  stages: PlannedStage[];
  targetSize: number;
  warnings: string[];
}

export interface StageProgress {
  name: string;
  cohortSize: number;
  active: number;
  updating: number;
  failed: number;
  waitingWindow: number;
  startedAtMs: number;
  gates: GateResult[];
}

export interface RolloutView {
  rollout: Rollout;
  stages: StageProgress[];
}

const UPDATING = new Set(['notified', 'downloading', 'verifying', 'self_testing', 'reverting']);
const FAILED = new Set(['failed', 'rolled_back']);

/** The operator's side of rollouts: plan, start, inspect and steer. Every change is audited. */
export class RolloutService {
  constructor(private readonly deps: RolloutDeps & { kick?: () => void }) {}

  /** Fills defaults: stage names, failure action, promote alias. */
  normalise(spec: RolloutSpec): RolloutSpec {
    return {
      ...spec,
      stages: spec.stages.map((s, i) => ({
        ...s,
        name: s.name || (i === spec.stages.length - 1 ? 'full' : `stage-${i + 1}`),
      })),
      promoteAlias: spec.promoteAlias || DEFAULT_PROMOTE_ALIAS,
    };
  }

  async plan(input: RolloutSpec): Promise<Plan & { assignment: Map<string, number>; target: TargetAgent[] }> {
    const spec = this.normalise(input);
    validateSpec(spec);
    const ref = spec.version ? await this.deps.catalog.version(spec.model, spec.version) : undefined;
    const target = await this.deps.store.targetAgents(spec.target, this.deps.clock.now());
    const { stageOf, uncovered } = assignStages(
      target,
      spec.stages.map((s) => s.percent),
      spec.model,
    );
    const running = await this.deps.store.runningVersions(target.map((a) => a.id));
    const warnings: string[] = [];
    if (target.length === 0) warnings.push('the selector matches no agent');
    for (const s of uncovered) warnings.push(`first stage does not cover stratum ${s}: its site has a single line`);
    const conflicts = await this.conflicts(spec);
    for (const c of conflicts) warnings.push(`overlaps active rollout ${c.id} (${c.spec.model}@${c.spec.version})`);
    const stages = spec.stages.map((s, i) => {
      const agentIds = target.filter((a) => stageOf.get(a.id) === i).map((a) => a.id);
      const downloads = agentIds.filter((id) => running.get(id) !== spec.version).length;
      return {
        name: s.name,
        agentIds,
        gates: s.gates,
        downloadBytes: downloads * (ref?.sizeBytes ?? 0),
        bakeS: s.bakeS,
      };
    });
    warnings.push(...emptyStageWarnings(stages));
    return { stages, targetSize: target.length, warnings, assignment: stageOf, target };
  }

  /** @throws PreconditionError when an active rollout's target overlaps; NotFoundError for an unknown version. */
  async start(input: RolloutSpec, caller: Caller): Promise<Rollout> {
    const spec = this.normalise(input);
    const plan = await this.plan(spec);
    const conflict = (await this.conflicts(spec))[0];
    if (conflict) throw overlapError(conflict);
    const now = this.deps.clock.now();
    const r: Rollout = {
      id: this.deps.newId(),
      spec,
      status: 'running',
      statusReason: '',
      currentStage: 0,
      stageStartedAtMs: now,
      previousVersion: await this.previousVersion(spec, plan.target),
      targetSize: plan.targetSize,
      createdBy: caller.actor,
      createdAtMs: now,
      updatedAtMs: now,
    };
    const members: Member[] = plan.target.map((a) => ({
      agentId: a.id,
      siteId: a.siteId,
      stage: plan.assignment.get(a.id) ?? spec.stages.length - 1,
      role: 'target',
      state: 'pending',
      reason: '',
      updatedAtMs: now,
    }));
    const d = decision(r, 'started', now, {
      actor: caller.actor,
      reason: spec.reason || `${rolloutSubject(spec)} to ${plan.targetSize} agents`,
    });
    await this.deps.store.create(r, members, d, {
      ...caller,
      action: 'rollout.start',
      target: `rollout/${r.id}`,
      detail: {
        model: spec.model,
        version: spec.version,
        targetSize: plan.targetSize,
        previousVersion: r.previousVersion,
      },
      reason: spec.reason,
      atMs: now,
    });
    record(this.deps, d);
    this.deps.kick?.();
    return r;
  }

  async get(id: string): Promise<Rollout> {
    const r = await this.deps.store.get(id);
    if (!r) throw new NotFoundError('rollout', id);
    return r;
  }

  list(filter: { model?: string; activeOnly: boolean; limit: number; afterId?: string }): Promise<Rollout[]> {
    const statuses = filter.activeOnly ? ACTIVE_STATUSES : undefined;
    return this.deps.store.list({
      model: filter.model || undefined,
      statuses,
      limit: filter.limit,
      afterId: filter.afterId,
    });
  }

  decisions(id: string): Promise<Decision[]> {
    return this.deps.store.decisions(id, 1000);
  }

  /** Rollout with per-stage counts; the current stage's gates are evaluated live (read only). */
  async view(id: string): Promise<RolloutView> {
    const r = await this.get(id);
    const now = this.deps.clock.now();
    const members = await this.deps.store.members(id);
    const decisions = await this.deps.store.decisions(id, 1000);
    let live: GateResult[] = [];
    if (r.status === 'running' || r.status === 'paused') {
      const target = await this.deps.store.targetAgents(r.spec.target, now);
      const ev = await gatherEvidence(this.deps, r, members, new Map(target.map((a) => [a.id, a])), now);
      live = evaluateStage(r.spec.stages[r.currentStage]?.gates ?? [], ev).gates;
    }
    const stages = r.spec.stages.map((s, i) => stageProgress(r, i, s.name, members, decisions, live));
    return { rollout: r, stages };
  }

  pause(id: string, reason: string, caller: Caller): Promise<Rollout> {
    return this.transition(id, caller, reason, 'paused', ['running'], {
      status: 'paused',
      statusReason: reason || 'paused by operator',
    });
  }

  /** Restarts the stage's bake and timeout: the pause may have lasted longer than either. */
  resume(id: string, reason: string, caller: Caller): Promise<Rollout> {
    const now = this.deps.clock.now();
    return this.transition(id, caller, reason, 'resumed', ['paused'], {
      status: 'running',
      statusReason: '',
      stageStartedAtMs: now,
    });
  }

  /** Skips the rest of the current stage's bake (and its gates): the next stage starts now. */
  async promote(id: string, reason: string, caller: Caller): Promise<Rollout> {
    const r = await this.get(id);
    requireStatus(r, ['running', 'paused']);
    const last = r.currentStage >= r.spec.stages.length - 1;
    if (last) throw new PreconditionError(`rollout ${id} is at its last stage; nothing to promote to`, { id });
    const now = this.deps.clock.now();
    return this.transition(id, caller, reason, 'promoted', ['running', 'paused'], {
      status: 'running',
      statusReason: '',
      currentStage: r.currentStage + 1,
      stageStartedAtMs: now,
    });
  }

  /** Stops the rollout where it is; agents keep what they run (use rollback to revert). Always allowed while active. */
  abort(id: string, reason: string, caller: Caller): Promise<Rollout> {
    return this.transition(id, caller, reason, 'aborted', ACTIVE_STATUSES, {
      status: 'aborted',
      statusReason: reason || 'aborted by operator',
    });
  }

  /**
   * Sends every agent told about the version back to the previous one. The config layers a config
   * rollout stored when it succeeded go in the same transaction, so the revert leaves them out.
   */
  async rollback(id: string, reason: string, caller: Caller): Promise<Rollout> {
    const r = await this.transition(
      id,
      caller,
      reason,
      'rolled_back',
      [...ACTIVE_STATUSES, 'succeeded'],
      { status: 'rolled_back', statusReason: reason || 'rolled back by operator' },
      { dropLayers: true },
    );
    await reconcileRevert(this.deps, r);
    return r;
  }

  /** Fleet-wide emergency stop: pauses every running rollout at once; returns how many. */
  async stopAll(reason: string, caller: Caller): Promise<number> {
    const now = this.deps.clock.now();
    await this.deps.store.setFleetSetting('rollouts.frozen', { frozen: true, reason, atMs: now }, caller.actor);
    const running = await this.deps.store.list({ statuses: ['running'], limit: 10_000 });
    let paused = 0;
    for (const r of running) {
      const why = `emergency stop: ${reason || 'no reason given'}`;
      const d = decision(r, 'paused', now, { actor: caller.actor, reason: why });
      const audit = { ...caller, action: 'rollout.emergency_stop', target: `rollout/${r.id}`, reason, atMs: now };
      const ok = await this.deps.store.change(r.id, {
        patch: { status: 'paused', statusReason: why },
        decision: d,
        audit,
        expectStatus: ['running'],
      });
      if (ok) {
        paused++;
        record(this.deps, d);
      }
    }
    return paused;
  }

  private async transition(
    id: string,
    caller: Caller,
    reason: string,
    kind: DecisionKind,
    from: readonly RolloutStatus[],
    patch: RolloutChange['patch'],
    extra: Pick<RolloutChange, 'dropLayers'> = {},
  ): Promise<Rollout> {
    const r = await this.get(id);
    requireStatus(r, from);
    const now = this.deps.clock.now();
    const d = decision(r, kind, now, { actor: caller.actor, reason });
    const audit = {
      ...caller,
      action: `rollout.${kind}`,
      target: `rollout/${id}`,
      reason,
      detail: { from: r.status, stage: r.currentStage },
      atMs: now,
    };
    const ok = await this.deps.store.change(id, {
      ...extra,
      patch,
      decision: d,
      audit,
      expectStatus: from,
      expectStage: r.currentStage,
    });
    if (!ok) throw new PreconditionError(`rollout ${id} changed meanwhile; try again`, { id });
    record(this.deps, d);
    this.deps.kick?.();
    return this.get(id);
  }

  private async conflicts(spec: RolloutSpec): Promise<Rollout[]> {
    const active = await this.deps.store.list({ statuses: ACTIVE_STATUSES, limit: 10_000 });
    return active.filter((r) => selectorsOverlap(r.spec.target, spec.target));
  }

  /** The alias's version, else the version most of the target runs, else none. */
  private async previousVersion(spec: RolloutSpec, target: TargetAgent[]): Promise<string> {
    if (!spec.version) return '';
    const alias = await this.deps.catalog.alias(spec.model, spec.promoteAlias);
    if (alias && alias !== spec.version) return alias;
    const running = await this.deps.store.runningVersions(target.map((a) => a.id));
    const counts = new Map<string, number>();
    for (const v of running.values()) if (v && v !== spec.version) counts.set(v, (counts.get(v) ?? 0) + 1);
    return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';
  }
}

/** Stages whose cohort (their agents and those of earlier stages) is empty: their gates never get samples. */
function emptyStageWarnings(stages: readonly PlannedStage[]): string[] {
  const out: string[] = [];
  let cohort = 0;
  for (const s of stages) {
    cohort += s.agentIds.length;
    if (cohort === 0 && s.gates.length > 0)
      out.push(`stage ${s.name} gets no agents: its gates get no samples, so it waits for its timeout`);
  }
  return out;
}

export function overlapError(r: Rollout): PreconditionError {
  return new PreconditionError(
    `active rollout ${r.id} (${r.spec.model}@${r.spec.version}, ${r.status}) already targets overlapping agents`,
    { conflict: r.id },
  );
}

function requireStatus(r: Rollout, from: readonly RolloutStatus[]): void {
  if (!from.includes(r.status)) {
    throw new PreconditionError(`rollout ${r.id} is ${r.status}; this needs ${from.join(' or ')}`, {
      id: r.id,
      status: r.status,
    });
  }
}

function stageProgress(
  r: Rollout,
  i: number,
  name: string,
  members: Member[],
  decisions: Decision[],
  live: GateResult[],
): StageProgress {
  const mine = members.filter((m) => m.stage === i && m.state !== 'excluded');
  const started =
    i === r.currentStage
      ? r.stageStartedAtMs
      : i === 0
        ? r.createdAtMs
        : (decisions.find((d) => (d.kind === 'stage_advanced' || d.kind === 'promoted') && d.stage === i - 1)?.atMs ??
          0);
  const passed = decisions.filter((d) => d.stage === i && d.gates.length > 0).at(-1)?.gates ?? [];
  return {
    name,
    cohortSize: mine.length,
    active: mine.filter((m) => m.state === 'active').length,
    updating: mine.filter((m) => UPDATING.has(m.state)).length,
    failed: mine.filter((m) => FAILED.has(m.state)).length,
    waitingWindow: mine.filter((m) => m.state === 'waiting_window').length,
    startedAtMs: i <= r.currentStage ? started : 0,
    gates: i === r.currentStage && live.length > 0 ? live : passed,
  };
}
