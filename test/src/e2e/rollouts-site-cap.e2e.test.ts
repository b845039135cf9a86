import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentSpec, decisionAt, type ModelEvent, RolloutStack } from './rollouts-stack.js';

/** plant-p: two lines, two hardware kinds; plant-q: a single line. */
const AGENTS: AgentSpec[] = [
  { id: 'p1', site: 'plant-p', line: 'L1' },
  { id: 'p2', site: 'plant-p', line: 'L2' },
  { id: 'p3', site: 'plant-p', line: 'L2', labels: { hardware: 'rpi4' } },
  { id: 'q1', site: 'plant-q', line: 'L1' },
];
const SITE = new Map(AGENTS.map((a) => [a.id, a.site]));
const STRATUM = new Map(AGENTS.map((a) => [a.id, `${a.site}|${a.labels?.hardware ?? 'x86'}`]));
const UPDATING = new Set(['downloading', 'verifying', 'self_testing']);
const ARGS = ['--model', 'press', '--version', '1.0.0', '--stages', '10:0,100:0'];

/**
 * The most agents of one site that were downloading, verifying or self-testing at the same moment,
 * replayed from their reports (an agent is updating from such a report until its next other one).
 */
function maxUpdatingPerSite(events: readonly ModelEvent[]): Map<string, number> {
  const now = new Map<string, Set<string>>();
  const max = new Map<string, number>();
  const ordered = [...events].sort((a, b) => a.atMs - b.atMs || a.seq - b.seq);
  for (const e of ordered) {
    const site = SITE.get(e.agentId)!;
    const set = now.get(site) ?? new Set<string>();
    if (UPDATING.has(e.phase)) set.add(e.agentId);
    else set.delete(e.agentId);
    now.set(site, set);
    max.set(site, Math.max(max.get(site) ?? 0, set.size));
  }
  return max;
}

describe('stratified canary and the per-site cap with real agents', () => {
  let stack: RolloutStack;
  let canary: string[] = [];

  beforeAll(async () => {
    stack = await RolloutStack.start('mw-rollouts-cap');
    await stack.push('1.0.0', 0);
    for (const a of AGENTS) await stack.startAgent(a);
    await stack.untilOnline(AGENTS.map((a) => a.id));
  }, 300_000);

  afterAll(async () => {
    await stack?.dispose();
  }, 120_000);

  it("plans a canary covering every site × hardware × machine type, never a site's only line", async () => {
    const plan = await stack.json<{ stages: { agentIds: string[] }[]; warnings: string[] }>(
      'rollouts',
      'plan',
      ...ARGS,
    );
    canary = plan.stages[0]!.agentIds;
    // 10 % of four agents is one, but plant-p has two strata and each goes first.
    expect(new Set(canary.map((id) => STRATUM.get(id)))).toEqual(new Set(['plant-p|x86', 'plant-p|rpi4']));
    expect(canary).toHaveLength(2);
    expect(canary).not.toContain('q1');
    expect(plan.warnings.join('\n')).toMatch(/plant-q\|x86\|press.*single line/);
  });

  it('updates at most one agent of a site at once and the canary strictly before the rest', async () => {
    const r = await stack.startRollout(...ARGS, '--max-parallel', '1', '--gate', 'active_fraction>=1:1');
    const s = await stack.untilStatus(r.id, 'succeeded');
    for (const a of AGENTS) await stack.untilRunning(a.id, '1.0.0');
    const events = await stack.modelEvents(r.id);
    for (const a of AGENTS)
      expect(events.filter((e) => e.agentId === a.id && e.phase === 'downloading')).not.toEqual([]);
    expect(maxUpdatingPerSite(events)).toEqual(
      new Map([
        ['plant-p', 1],
        ['plant-q', 1],
      ]),
    );
    // The started rollout took the planned canary: it was active before the stage advanced, the rest after.
    const advancedAt = decisionAt(s.decisions.find((d) => d.kind === 'stage_advanced')!);
    const firstUpdate = (id: string) => events.find((e) => e.agentId === id && UPDATING.has(e.phase))!.atMs;
    const active = (id: string) => events.find((e) => e.agentId === id && e.phase === 'active')!.atMs;
    for (const id of canary) expect(active(id)).toBeLessThanOrEqual(advancedAt);
    for (const a of AGENTS.filter((x) => !canary.includes(x.id)))
      expect(firstUpdate(a.id)).toBeGreaterThanOrEqual(advancedAt);
  }, 300_000);
});
