import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../harness/index.js';
import { RolloutStack, SLOW } from './rollouts-stack.js';

/** plant-c has two lines, so a canary stage can take one agent. */
const AGENTS = [
  { id: 'c1', site: 'plant-c', line: 'L1' },
  { id: 'c2', site: 'plant-c', line: 'L2' },
];
const IDS = AGENTS.map((a) => a.id);

/** A config-only rollout of `config` to every agent: half first, then the rest. */
function configSpec(config: Record<string, unknown>, gates: Record<string, unknown>[], canaryBakeS = 0) {
  return {
    model: 'press',
    target: {},
    stages: [
      { name: 'canary', percent: 50, bakeS: canaryBakeS, gates },
      { name: 'full', percent: 100, bakeS: 0, gates },
    ],
    failureAction: 'FAILURE_ACTION_ROLLBACK',
    config,
  };
}
const converged = [
  { metric: 'GATE_METRIC_SELF_TEST_PASS_RATE', threshold: 1, minSamples: 1 },
  { metric: 'GATE_METRIC_ACTIVE_FRACTION', threshold: 1, minSamples: 1 },
];

describe('config rollouts judged by the config generation the agents report', () => {
  let stack: RolloutStack;
  /** The config rollout that succeeded (first test). */
  let succeeded = '';

  /** Config layers the control plane stored, by the rollout that stored them. */
  const layers = async () =>
    (await stack.sql`select scope, config, rollout_id from config_layers order by id`).map((r) => ({
      scope: String(r.scope),
      config: r.config as Record<string, unknown>,
      rolloutId: String(r.rollout_id ?? ''),
    }));

  /** Every agent has the config of its desired state in effect, as it reported. */
  async function untilApplied(config: unknown): Promise<void> {
    for (const id of IDS) {
      const d = await stack.desired(id);
      expect(d.state.config).toEqual(config);
      await waitFor(
        `${id} reports config generation ${d.generation}`,
        async () => {
          const [row] = await stack.sql`select max(config_generation)::int as cg from agent_model_events
            where agent_id = ${id}`;
          return Number(row?.cg) >= d.generation ? true : undefined;
        },
        SLOW,
        250,
      );
    }
  }

  beforeAll(async () => {
    stack = await RolloutStack.start('mw-rollouts-config');
    await stack.push('1.0.0', 0);
    await stack.push('2.0.0', 0.5);
    for (const a of AGENTS) await stack.startAgent(a);
    await stack.untilOnline(IDS);
    const r = await stack.startRollout('--model', 'press', '--version', '1.0.0', '--gate', 'active_fraction>=1:2');
    await stack.untilStatus(r.id, 'succeeded');
  }, 300_000);

  afterAll(async () => {
    await stack?.dispose();
  }, 120_000);

  it('passes a config rollout once every agent reports the generation carrying the layer, and stores the layer', async () => {
    const r = await stack.startSpec(configSpec({ alerts: { holdOffS: 42 } }, converged));
    const done = await stack.untilStatus(r.id, 'succeeded');
    succeeded = r.id;
    const advanced = done.decisions.find((d) => d.kind === 'stage_advanced');
    expect(advanced?.gates?.map((g) => g.outcome)).toEqual(['pass', 'pass']);
    // Each agent's member turned active only on a report of the config generation the rollout wrote.
    const events = await stack.modelEvents(r.id);
    for (const id of IDS) {
      const d = await stack.desired(id);
      expect(d.rolloutId).toBe(r.id);
      expect(d.state.config).toEqual({ alerts: { holdOffS: 42 } });
      const mine = events.filter((e) => e.agentId === id);
      expect(mine.some((e) => e.configGeneration >= d.generation)).toBe(true);
      expect((await stack.agent(id)).runningModelVersion).toBe('1.0.0');
    }
    expect(await layers()).toEqual([{ scope: 'fleet', config: { alerts: { holdOffS: 42 } }, rolloutId: r.id }]);
  }, 300_000);

  it('counts a refused config as a failed agent: the gate fails at canary and the canary is reverted', async () => {
    const r = await stack.startSpec(configSpec({ alerts: { holdOffS: 'soon' } }, converged));
    const s = await stack.untilStatus(r.id, 'rolled_back');
    const failed = s.decisions.find((d) => d.kind === 'gate_failed');
    expect(failed?.stage ?? 0).toBe(0);
    expect(failed?.gates?.find((g) => g.metric === 'GATE_METRIC_SELF_TEST_PASS_RATE')?.outcome).toBe('fail');
    const refused = (await stack.modelEvents(r.id)).filter((e) => e.phase === 'failed');
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]!.reason).toMatch(/config refused/);
    expect(refused[0]!.configGeneration).toBeLessThan(refused[0]!.desiredGeneration);
    // Nothing of it was stored, and the canary goes back to the stored layers.
    expect((await layers()).map((l) => l.rolloutId)).not.toContain(r.id);
    await waitFor(
      'the canary reverted',
      async () => ((await stack.status(r.id)).rollout.stages[0]!.failed ?? 0) === 0 || undefined,
      SLOW,
      250,
    );
    const reached = await Promise.all(IDS.map((id) => stack.desired(id)));
    expect(reached.filter((d) => d.rolloutId === r.id)).toHaveLength(1); // the second stage was never told
    await untilApplied({ alerts: { holdOffS: 42 } });
  }, 300_000);

  it('stores nothing for an aborted config rollout: the next desired states leave its layer out', async () => {
    const r = await stack.startSpec(configSpec({ alerts: { resolveAfterNormal: 9 } }, converged, 600));
    await waitFor(
      'the canary on the new config',
      async () => ((await stack.status(r.id)).rollout.stages[0]!.active ?? 0) === 1 || undefined,
      SLOW,
      250,
    );
    await stack.ok('rollouts', 'abort', r.id, '--reason', 'changed our mind');
    expect((await layers()).map((l) => l.rolloutId)).not.toContain(r.id);
    const m = await stack.startRollout('--model', 'press', '--version', '2.0.0', '--gate', 'active_fraction>=1:2');
    await stack.untilStatus(m.id, 'succeeded');
    for (const id of IDS) await stack.untilRunning(id, '2.0.0');
    await untilApplied({ alerts: { holdOffS: 42 } });
  }, 300_000);

  it('drops the stored layer when a succeeded config rollout is rolled back, keeping the model', async () => {
    await stack.ok('rollouts', 'rollback', succeeded, '--reason', 'hold-off back to default');
    expect(await layers()).toEqual([]);
    await untilApplied(undefined);
    for (const id of IDS) expect((await stack.agent(id)).runningModelVersion).toBe('2.0.0');
  }, 300_000);
});
