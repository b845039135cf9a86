/** Layered agent configuration: fleet -> site -> label group -> agent, later wins (deep merge of objects). */
import type { Member, Selector, TargetAgent } from './domain.js';

export type ConfigScope = 'fleet' | 'site' | 'label_group' | 'agent';

export interface ConfigLayer {
  scope: ConfigScope;
  /** site: {site}; label_group: the labels that must all match; agent: {agent}; fleet: {}. */
  selector: Record<string, string>;
  config: Record<string, unknown>;
  createdAtMs: number;
  /** Agents the layer does not apply to although its scope names them (they refused it). */
  exceptAgents?: ReadonlySet<string>;
}

const ORDER: Record<ConfigScope, number> = { fleet: 0, site: 1, label_group: 2, agent: 3 };

function applies(layer: ConfigLayer, a: Pick<TargetAgent, 'id' | 'siteId' | 'labels'>): boolean {
  if (layer.exceptAgents?.has(a.id)) return false;
  switch (layer.scope) {
    case 'fleet':
      return true;
    case 'site':
      return layer.selector.site === a.siteId;
    case 'label_group':
      return Object.entries(layer.selector).every(([k, v]) => a.labels[k] === v);
    case 'agent':
      return layer.selector.agent === a.id;
  }
}

/** Deep-merges plain objects; arrays and scalars of a later layer replace earlier ones. */
export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const prev = out[k];
    out[k] = isPlain(prev) && isPlain(v) ? deepMerge(prev, v) : v;
  }
  return out;
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The merged configuration of one agent from the layers that apply to it (scope order, then age).
 * Undefined when no layer applies.
 */
export function mergedConfig(
  layers: readonly ConfigLayer[],
  agent: Pick<TargetAgent, 'id' | 'siteId' | 'labels'>,
): Record<string, unknown> | undefined {
  const mine = layers
    .filter((l) => applies(l, agent))
    .sort((a, b) => ORDER[a.scope] - ORDER[b.scope] || a.createdAtMs - b.createdAtMs);
  if (mine.length === 0) return undefined;
  let out: Record<string, unknown> = {};
  for (const l of mine) out = deepMerge(out, l.config);
  return out;
}

/**
 * The layers a config rollout stands for: the narrowest scope its selector names exactly (no
 * selector: fleet; sites only: one site layer each; labels only: a label group), otherwise (sites and
 * labels together, or excluded agents) one agent layer per agent in `agentIds`. The same layers are
 * merged while the rollout runs and stored once it succeeds, so an agent's config does not change
 * when the rollout ends. `atMs` orders them after every older layer of their scope.
 */
export function rolloutLayers(
  target: Selector,
  config: Record<string, unknown>,
  agentIds: readonly string[],
  atMs: number,
): ConfigLayer[] {
  const layer = (scope: ConfigScope, selector: Record<string, string>): ConfigLayer => ({
    scope,
    selector,
    config,
    createdAtMs: atMs,
  });
  const labels = Object.keys(target.labels).length > 0;
  const sites = target.siteIds.length > 0;
  if (target.excludeAgentIds.length === 0 && !(labels && sites)) {
    if (sites) return target.siteIds.map((site) => layer('site', { site }));
    return [labels ? layer('label_group', { ...target.labels }) : layer('fleet', {})];
  }
  return agentIds.map((agent) => layer('agent', { agent }));
}

/** Member states of agents that did not take a rollout: they refused its config or failed (or undid) its update. */
const REFUSED: ReadonlySet<Member['state']> = new Set(['failed', 'rolled_back']);

/**
 * What a config rollout stores when it succeeds: the layers it stood for while it ran, for the
 * members that reached it. Members that refused it stay out (gates may pass with a few failures):
 * a scope-wide layer lists them in `exceptAgents`, an agent-layer fallback leaves their layer out,
 * so their later desired states do not carry a config they refuse.
 */
export function layersOnSuccess(
  target: Selector,
  config: Record<string, unknown>,
  members: readonly Pick<Member, 'agentId' | 'state'>[],
  atMs: number,
): ConfigLayer[] {
  const reached = members.filter((m) => m.state !== 'excluded');
  const refused = new Set(reached.filter((m) => REFUSED.has(m.state)).map((m) => m.agentId));
  const took = reached.filter((m) => !refused.has(m.agentId)).map((m) => m.agentId);
  if (took.length === 0) return [];
  const layers = rolloutLayers(target, config, took, atMs);
  if (refused.size === 0) return layers;
  return layers.map((l) => (l.scope === 'agent' ? l : { ...l, exceptAgents: refused }));
}
