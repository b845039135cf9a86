/** One controller tick of one rollout, from stored state only (so a new leader continues seamlessly). */
import { layersOnSuccess } from './config-layers.js';
import type { RolloutDeps } from './deps.js';
import { type BuildContext, type DesiredIntent, writeDesired } from './desired.js';
import {
  CONTROLLER_ACTOR,
  type Decision,
  type DecisionKind,
  type GateResult,
  type Member,
  type MemberState,
  type Rollout,
  rolloutSubject,
  type TargetAgent,
  UPDATING_STATES,
} from './domain.js';
import { cohortOf, gatherEvidence } from './evidence.js';
import { evaluateStage, type StageVerdict } from './gates.js';
import { decideStage, type TickAction } from './machine.js';

const NOT_REVERTED: ReadonlySet<MemberState> = new Set(['pending', 'excluded', 'reverting', 'reverted']);

export function decision(
  r: Pick<Rollout, 'id' | 'currentStage'>,
  kind: DecisionKind,
  atMs: number,
  extra: { gates?: GateResult[]; actor?: string; reason?: string; stage?: number } = {},
): Decision {
  return {
    rolloutId: r.id,
    atMs,
    kind,
    stage: extra.stage ?? r.currentStage,
    gates: extra.gates ?? [],
    actor: extra.actor ?? CONTROLLER_ACTOR,
    reason: extra.reason ?? '',
  };
}

export async function buildContext(
  deps: RolloutDeps,
  r: Rollout,
  agents: readonly TargetAgent[],
  nowMs: number,
): Promise<BuildContext> {
  const siteIds = [...new Set(agents.map((a) => a.siteId))];
  const [sites, layers] = await Promise.all([deps.store.sites(siteIds), deps.store.configLayers()]);
  return { rollout: r, agents: new Map(agents.map((a) => [a.id, a])), sites, layers, nowMs };
}

/** Membership, notifications, gates and the stage decision of a RUNNING rollout. */
export async function reconcileRunning(deps: RolloutDeps, r: Rollout): Promise<void> {
  const now = deps.clock.now();
  const target = await deps.store.targetAgents(r.spec.target, now);
  const targetById = new Map(target.map((a) => [a.id, a]));
  const members = await syncMembers(deps, r, target, targetById, now);
  const ctx = await buildContext(deps, r, target, now);
  await notify(deps, ctx, r, members, now);
  const held = cohortOf(r, members).filter((m) => m.state === 'pending').length;
  const stage = r.spec.stages[r.currentStage]!;
  let verdict: StageVerdict = evaluateStage(stage.gates, await gatherEvidence(deps, r, members, targetById, now));
  if (verdict.kind === 'pass' && held > 0) {
    verdict = {
      kind: 'insufficient',
      gates: verdict.gates,
      reason: `${held} agents of the stage still wait for an update slot`,
    };
  }
  deps.metrics.stage(r.id, r.currentStage);
  await apply(deps, r, decideStage(r, now, verdict), members, now);
}

/**
 * Agents that enrolled or started matching the selector join at the stage reached (so do members
 * that had left and match again); members that left the target become `excluded`.
 */
async function syncMembers(
  deps: RolloutDeps,
  r: Rollout,
  target: readonly TargetAgent[],
  targetById: ReadonlyMap<string, TargetAgent>,
  now: number,
): Promise<Member[]> {
  const stored = await deps.store.members(r.id);
  const inside = new Set(stored.filter((m) => m.state !== 'excluded').map((m) => m.agentId));
  const joiners: Member[] = target
    .filter((a) => !inside.has(a.id))
    .map((a) => ({
      agentId: a.id,
      siteId: a.siteId,
      stage: r.currentStage,
      role: 'target',
      state: 'pending',
      reason: 'joined',
      updatedAtMs: now,
    }));
  const joined = new Set(joiners.map((j) => j.agentId));
  const members = stored.filter((m) => !joined.has(m.agentId));
  if (joiners.length > 0) {
    await deps.store.addMembers(r.id, joiners);
    const ids = joiners
      .slice(0, 20)
      .map((j) => j.agentId)
      .join(', ');
    await deps.store.appendDecision(
      decision(r, 'agent_joined', now, {
        reason: `${joiners.length} agents joined at stage ${r.currentStage}: ${ids}`,
      }),
    );
    deps.metrics.decision('agent_joined');
  }
  const leavers = members.filter((m) => m.state !== 'excluded' && !targetById.has(m.agentId));
  if (leavers.length > 0) {
    const reason = 'left the target (pinned, decommissioned or no longer matching)';
    await deps.store.setMemberStates(
      r.id,
      leavers.map((m) => ({ agentId: m.agentId, state: 'excluded', reason })),
    );
    for (const m of leavers) m.state = 'excluded';
  }
  if (target.length !== r.targetSize) await deps.store.change(r.id, { patch: { targetSize: target.length } });
  return [...members, ...joiners];
}

/** Writes desired states for members of reached stages that wait, within the per-site cap. */
async function notify(deps: RolloutDeps, ctx: BuildContext, r: Rollout, members: Member[], now: number): Promise<void> {
  const due = members.filter((m) => m.stage <= r.currentStage && m.state === 'pending');
  const chosen = withinSiteCap(due, members, r.spec.maxParallelPerSite, now - deps.options.stuckAfterMs);
  if (chosen.length === 0) return;
  const stage = r.spec.stages[r.currentStage]!;
  const ref = r.spec.version ? await deps.catalog.version(r.spec.model, r.spec.version) : undefined;
  const intent: DesiredIntent = stage.shadow && ref ? { kind: 'shadow', ref } : { kind: 'update', ref };
  await writeDesired(deps, ctx, intent, chosen);
  const reason = stage.shadow ? 'shadow desired state written' : 'desired state written';
  // Only still-pending members: an agent may already have reported progress (a small artifact is fast).
  await deps.store.setMemberStates(
    r.id,
    chosen.map((m) => ({ agentId: m.agentId, state: 'notified', reason })),
    ['pending'],
  );
  for (const m of chosen) {
    m.state = 'notified';
    m.updatedAtMs = now;
  }
}

/** A stuck agent (updating since before `stuckBeforeMs`) does not hold a slot: it never blocks the rest. */
export function withinSiteCap(due: Member[], all: readonly Member[], cap: number, stuckBeforeMs: number): Member[] {
  if (cap <= 0) return due;
  const busy = new Map<string, number>();
  for (const m of all) {
    if (UPDATING_STATES.has(m.state) && m.updatedAtMs >= stuckBeforeMs)
      busy.set(m.siteId, (busy.get(m.siteId) ?? 0) + 1);
  }
  const out: Member[] = [];
  for (const m of due) {
    const n = busy.get(m.siteId) ?? 0;
    if (n >= cap) continue;
    busy.set(m.siteId, n + 1);
    out.push(m);
  }
  return out;
}

async function apply(deps: RolloutDeps, r: Rollout, action: TickAction, members: Member[], now: number): Promise<void> {
  const running = { expectStatus: ['running'] as const, expectStage: r.currentStage };
  switch (action.kind) {
    case 'wait':
      return;
    case 'advance': {
      const d = decision(r, 'stage_advanced', now, {
        gates: action.gates,
        reason: `to stage ${action.to} (${r.spec.stages[action.to]?.name ?? ''})`,
      });
      if (
        !(await deps.store.change(r.id, {
          patch: { currentStage: action.to, stageStartedAtMs: now },
          decision: d,
          ...running,
        }))
      )
        return;
      record(deps, d);
      if (r.spec.stages[r.currentStage]?.shadow && !r.spec.stages[action.to]?.shadow)
        await leaveShadow(deps, r, members, action.to);
      return;
    }
    case 'succeed':
      return succeed(deps, r, action.gates, members, now);
    case 'fail':
      return fail(deps, r, action.gates, action.reason, now);
    case 'timeout': {
      const d = decision(r, 'stage_timeout', now, { gates: action.gates, reason: action.reason });
      if (
        await deps.store.change(r.id, {
          patch: { status: 'paused', statusReason: action.reason },
          decision: d,
          ...running,
        })
      )
        record(deps, d);
      return;
    }
  }
}

/** Members that ran the candidate in shadow get it for real at the next stage. */
async function leaveShadow(deps: RolloutDeps, r: Rollout, members: Member[], to: number): Promise<void> {
  const again = members.filter((m) => m.stage <= to && !NOT_REVERTED.has(m.state) && m.state !== 'failed');
  await deps.store.setMemberStates(
    r.id,
    again.map((m) => ({ agentId: m.agentId, state: 'pending', reason: 'shadow stage passed' })),
  );
}

/**
 * A config rollout's layers are stored in the same transaction: later desired states keep them,
 * except for members that refused it.
 */
async function succeed(
  deps: RolloutDeps,
  r: Rollout,
  gates: GateResult[],
  members: readonly Member[],
  now: number,
): Promise<void> {
  const d = decision(r, 'succeeded', now, { gates, reason: `${rolloutSubject(r.spec)} reached every stage` });
  const addLayers = r.spec.config ? layersOnSuccess(r.spec.target, r.spec.config, members, now) : undefined;
  if (
    !(await deps.store.change(r.id, {
      patch: { status: 'succeeded', statusReason: d.reason },
      decision: d,
      expectStatus: ['running'],
      expectStage: r.currentStage,
      addLayers,
    }))
  )
    return;
  record(deps, d);
  deps.metrics.stage(r.id, undefined);
  if (!r.spec.version) return;
  const alias = r.spec.promoteAlias;
  await deps.catalog
    .moveAlias(r.spec.model, alias, r.spec.version, CONTROLLER_ACTOR, `rollout ${r.id} succeeded`)
    .catch((err: unknown) => deps.log.error({ err, rolloutId: r.id, alias }, 'rollout.alias.move_failed'));
}

async function fail(deps: RolloutDeps, r: Rollout, gates: GateResult[], reason: string, now: number): Promise<void> {
  const failed = decision(r, 'gate_failed', now, { gates, reason });
  const rollback = r.spec.failureAction === 'rollback';
  const status = rollback ? 'rolled_back' : 'paused';
  const next = decision(r, rollback ? 'rolled_back' : 'paused', now, {
    reason: `gate failed at stage ${r.currentStage}: ${reason}`,
  });
  const ok = await deps.store.change(r.id, {
    patch: { status, statusReason: next.reason },
    decision: failed,
    expectStatus: ['running'],
    expectStage: r.currentStage,
  });
  if (!ok) return;
  record(deps, failed);
  await deps.store.appendDecision(next);
  record(deps, next);
  deps.log.warn({ rolloutId: r.id, stage: r.currentStage, reason }, 'rollout.gate.failed');
  if (rollback) await reconcileRevert(deps, { ...r, status });
}

/** Sends every member that was told about the version back to the previous one (signed rollback). */
export async function reconcileRevert(deps: RolloutDeps, r: Rollout): Promise<number> {
  const members = (await deps.store.members(r.id)).filter((m) => !NOT_REVERTED.has(m.state));
  if (members.length === 0) return 0;
  const now = deps.clock.now();
  await deps.store.setMemberStates(
    r.id,
    members.map((m) => ({
      agentId: m.agentId,
      state: 'reverting',
      reason: r.spec.version ? `back to ${r.previousVersion || 'no model'}` : 'back to the stored config layers',
    })),
  );
  const ref = await rollbackRef(deps, r);
  // The agents' labels pick their label-group config layers.
  const ctx = await buildContext(deps, r, await deps.store.targetAgents(r.spec.target, now), now);
  await writeDesired(deps, ctx, { kind: 'revert', ref }, members);
  deps.log.info({ rolloutId: r.id, agents: members.length, to: r.previousVersion }, 'rollout.reverting');
  return members.length;
}

async function rollbackRef(deps: RolloutDeps, r: Rollout) {
  if (!r.previousVersion || !r.spec.version) return undefined;
  const ref = await deps.catalog.version(r.spec.model, r.previousVersion);
  const signature = await deps.catalog.signRollback(r.spec.model, r.previousVersion, r.spec.version);
  return { ...ref, signature };
}

export function record(deps: RolloutDeps, d: Decision): void {
  deps.metrics.decision(d.kind);
  deps.events.decision(d);
  deps.log.info({ rolloutId: d.rolloutId, kind: d.kind, stage: d.stage, reason: d.reason }, `rollout.${d.kind}`);
}
