/** Which stage takes which agent: a stable hash, stratified so the first stage covers the target. */
import type { TargetAgent } from './domain.js';

/** FNV-1a, 32 bit: the same agent gets the same place for a model every time (plan == start). */
export function stableHash(seed: string, agentId: string): number {
  let h = 0x811c9dc5;
  const s = `${seed}:${agentId}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** site × hardware × machine_type: the strata the first stage must cover. */
export function stratumOf(a: Pick<TargetAgent, 'siteId' | 'labels'>): string {
  return `${a.siteId}|${a.labels.hardware ?? ''}|${a.labels.machine_type ?? ''}`;
}

/** Sites whose agents in the target all sit on one line: a canary there could stop the whole site. */
export function singleLineSites(agents: readonly TargetAgent[]): Set<string> {
  const lines = new Map<string, Set<string>>();
  for (const a of agents) {
    const set = lines.get(a.siteId) ?? new Set<string>();
    set.add(a.lineId);
    lines.set(a.siteId, set);
  }
  return new Set([...lines].filter(([, l]) => l.size <= 1).map(([site]) => site));
}

/** Cumulative agent counts per stage for a target of `n` agents (the last stage takes every agent). */
export function stageCounts(n: number, percents: readonly number[]): number[] {
  return percents.map((p, i) => (i === percents.length - 1 ? n : Math.min(n, Math.ceil((n * p) / 100))));
}

export interface Assignment {
  /** agent id -> stage index */
  stageOf: Map<string, number>;
  /** Strata the first stage could not cover (only single-line sites had agents there). */
  uncovered: string[];
}

/**
 * Assigns every target agent a stage. The first stage takes, per stratum, the agent with the lowest
 * hash (so it covers every site × hardware × machine type), then fills to its percentage by hash;
 * agents of single-line sites never go first when a later stage exists. Later stages fill by hash.
 */
export function assignStages(agents: readonly TargetAgent[], percents: readonly number[], seed: string): Assignment {
  const ordered = [...agents].sort((a, b) => stableHash(seed, a.id) - stableHash(seed, b.id) || cmp(a.id, b.id));
  const held = percents.length > 1 ? singleLineSites(agents) : new Set<string>();
  const counts = stageCounts(agents.length, percents);
  const first = firstStage(ordered, held, counts[0] ?? 0);
  const stageOf = new Map<string, number>();
  for (const id of first.picked) stageOf.set(id, 0);
  let stage = percents.length > 1 ? 1 : 0;
  for (const a of ordered) {
    if (stageOf.has(a.id)) continue;
    while (stage < counts.length - 1 && stageOf.size >= counts[stage]!) stage++;
    stageOf.set(a.id, stage);
  }
  return { stageOf, uncovered: first.uncovered };
}

function firstStage(ordered: readonly TargetAgent[], held: Set<string>, count: number) {
  const picked = new Set<string>();
  const strata = new Map<string, boolean>();
  for (const a of ordered) {
    const s = stratumOf(a);
    if (!strata.has(s)) strata.set(s, false);
    if (held.has(a.siteId) || strata.get(s)) continue;
    strata.set(s, true);
    picked.add(a.id);
  }
  for (const a of ordered) {
    if (picked.size >= count) break;
    if (!held.has(a.siteId)) picked.add(a.id);
  }
  const uncovered = [...strata].filter(([, covered]) => !covered).map(([s]) => s);
  return { picked, uncovered };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
