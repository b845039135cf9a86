/** Building and writing agents' desired states for a rollout (update, shadow, revert). */

import { mergedConfig, rolloutLayers } from './config-layers.js';
import type { RolloutDeps } from './deps.js';
import { type Rollout, rolloutSubject, type TargetAgent } from './domain.js';
import type { DesiredModelRef, DesiredSpec, SiteWindows } from './ports.js';

/** Agents per Postgres transaction + KV batch when writing desired states. */
const WRITE_CHUNK = 2000;

export type DesiredIntent =
  | { kind: 'update'; ref: DesiredModelRef | undefined }
  | { kind: 'shadow'; ref: DesiredModelRef }
  | { kind: 'revert'; ref: DesiredModelRef | undefined };

/** What the builder needs besides the agent's current desired state. */
export interface BuildContext {
  rollout: Rollout;
  agents: Map<string, Pick<TargetAgent, 'id' | 'siteId' | 'labels'>>;
  sites: Map<string, SiteWindows>;
  layers: Awaited<ReturnType<RolloutDeps['store']['configLayers']>>;
  nowMs: number;
}

/**
 * The next desired state of one agent for an intent; the current one supplies what the intent keeps.
 * Only an update carries the rollout's config layer: a shadow stage must not act on the candidate,
 * and a revert goes back to the stored layers. A config-only rollout never changes the model.
 */
export function buildDesired(
  ctx: BuildContext,
  intent: DesiredIntent,
  agentId: string,
  siteId: string,
  current: DesiredSpec | undefined,
): Omit<DesiredSpec, 'generation'> {
  const r = ctx.rollout;
  const agent = ctx.agents.get(agentId) ?? { id: agentId, siteId, labels: {} };
  const site = ctx.sites.get(siteId);
  const revert = intent.kind === 'revert';
  const keepModel = !r.spec.version || intent.kind === 'shadow';
  const layers =
    intent.kind === 'update' && r.spec.config
      ? [...ctx.layers, ...rolloutLayers(r.spec.target, r.spec.config, [agentId], ctx.nowMs)]
      : ctx.layers;
  return {
    agentId,
    siteId,
    model: keepModel ? current?.model : intent.ref,
    shadow: intent.kind === 'shadow' ? intent.ref : undefined,
    switchPolicy: {
      condition: revert ? '' : r.spec.switchCondition,
      // A revert must not wait for a window: it is the way out of a bad version.
      force: revert || r.spec.force,
      windows: site?.windows ?? [],
      timeZone: site?.timeZone ?? '',
    },
    config: mergedConfig(layers, agent),
    rolloutId: r.id,
    reason: revert ? `rollback of ${rolloutSubject(r.spec)} (rollout ${r.id})` : r.spec.reason || `rollout ${r.id}`,
    issuedAtMs: ctx.nowMs,
  };
}

/**
 * Stores the next desired state of each agent (generation + 1, Postgres first) and then writes them
 * to KV; a failed KV write is retried by the controller's repair pass, never lost.
 */
export async function writeDesired(
  deps: RolloutDeps,
  ctx: BuildContext,
  intent: DesiredIntent,
  agents: { agentId: string; siteId: string }[],
): Promise<DesiredSpec[]> {
  if (agents.length === 0) return [];
  const siteOf = new Map(agents.map((a) => [a.agentId, a.siteId]));
  const build = (id: string, current: DesiredSpec | undefined) =>
    buildDesired(ctx, intent, id, siteOf.get(id) ?? current?.siteId ?? '', current);
  const out: DesiredSpec[] = [];
  let publishing = Promise.resolve();
  for (let i = 0; i < agents.length; i += WRITE_CHUNK) {
    const stored = await deps.desired.update(agents.slice(i, i + WRITE_CHUNK), build);
    out.push(...stored);
    // Each chunk goes to KV once committed, while the next chunk's transaction runs: the first agents
    // hear at once and the total is the slower of Postgres and KV, not their sum (100k agents).
    publishing = publishing.then(() => publish(deps, stored));
  }
  await publishing;
  return out;
}

/** Writes to KV and records the revisions; failures are logged and left to the repair pass. */
export async function publish(deps: RolloutDeps, states: DesiredSpec[]): Promise<void> {
  try {
    const written = await deps.bus.publish(states);
    await deps.desired.markWritten(written);
  } catch (err) {
    deps.log.warn({ err, agents: states.length }, 'rollout.desired.kv_write_failed');
  }
}
