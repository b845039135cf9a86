import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decisionAt, RolloutStack } from './rollouts-stack.js';

/** Two lines at one site: the shadow stage takes one agent, the last stage both. */
const AGENTS = [
  { id: 's1', site: 'plant-s', line: 'L1' },
  { id: 's2', site: 'plant-s', line: 'L2' },
];
const IDS = AGENTS.map((a) => a.id);
const SHADOW_GATE = '0@shadow_disagreement<=0.1:20';

describe('shadow stage with real agents: the candidate scores beside the running model without acting', () => {
  let stack: RolloutStack;

  beforeAll(async () => {
    stack = await RolloutStack.start('mw-rollouts-shadow');
    await stack.push('1.0.0', 0);
    await stack.push('1.1.0', 0.25); // the same decisions as 1.0.0 on every window
    await stack.push('9.0.0', 2000); // alerts on every window: disagrees with 1.0.0 everywhere
    for (const a of AGENTS) await stack.startAgent(a);
    await stack.untilOnline(IDS);
    const r = await stack.startRollout('--model', 'press', '--version', '1.0.0', '--gate', 'active_fraction>=1:2');
    await stack.untilStatus(r.id, 'succeeded');
  }, 300_000);

  afterAll(async () => {
    await stack?.dispose();
  }, 120_000);

  it('refuses a shadow-disagreement gate on a stage without shadow, naming the field', async () => {
    const res = await stack.ctl(
      'rollouts',
      'start',
      '--model',
      'press',
      '--version',
      '1.1.0',
      '--stages',
      '50:1,100:0',
      '--gate',
      SHADOW_GATE,
    );
    expect(res.code).toBe(4);
    expect(res.stderr).toMatch(/stages\[0\]\.gates\[0\]\.metric.*shadow_disagreement needs a shadow stage/);
  });

  it('fails the shadow stage of a disagreeing candidate and rolls back; the candidate never became active', async () => {
    const r = await stack.startRollout(
      '--model',
      'press',
      '--version',
      '9.0.0',
      '--shadow',
      '--stages',
      '50:5,100:0',
      '--gate',
      SHADOW_GATE,
    );
    const s = await stack.untilStatus(r.id, 'rolled_back');
    const failed = s.decisions.find((d) => d.kind === 'gate_failed');
    expect(failed?.stage ?? 0).toBe(0);
    const gate = failed?.gates?.[0];
    expect(gate).toMatchObject({ metric: 'GATE_METRIC_SHADOW_DISAGREEMENT', outcome: 'fail' });
    expect(gate?.value).toBeGreaterThan(0.5);
    expect(Number(gate?.samples)).toBeGreaterThanOrEqual(20);
    const events = await stack.modelEvents(r.id);
    const canary = events.find((e) => e.phase === 'shadowing' && e.version === '9.0.0')?.agentId;
    expect(IDS).toContain(canary);
    expect(events.filter((e) => e.phase === 'active' && e.version === '9.0.0')).toEqual([]);
    for (const id of IDS) expect((await stack.agent(id)).runningModelVersion).toBe('1.0.0');
    const after = await stack.desired(canary!);
    expect(after.state.shadow).toBeUndefined();
    expect((after.state.model as { version: string }).version).toBe('1.0.0');
  }, 300_000);

  it('passes the shadow stage of an agreeing candidate, then switches every agent for real', async () => {
    const r = await stack.startRollout(
      '--model',
      'press',
      '--version',
      '1.1.0',
      '--shadow',
      '--stages',
      '50:3,100:0',
      '--gate',
      SHADOW_GATE,
      '--gate',
      '1@active_fraction>=1:2',
    );
    expect(r.previousVersion).toBe('1.0.0');
    const s = await stack.untilStatus(r.id, 'succeeded');
    const advanced = s.decisions.find((d) => d.kind === 'stage_advanced')!;
    const gate = advanced.gates?.[0];
    expect(gate).toMatchObject({ metric: 'GATE_METRIC_SHADOW_DISAGREEMENT', outcome: 'pass' });
    expect(gate?.value ?? 0).toBeLessThanOrEqual(0.1);
    expect(Number(gate?.samples)).toBeGreaterThanOrEqual(20);
    const events = await stack.modelEvents(r.id);
    const shadowed = events.filter((e) => e.phase === 'shadowing' && e.version === '1.1.0');
    expect(shadowed).toHaveLength(1);
    const canary = shadowed[0]!.agentId;
    // The canary scored in shadow first and switched only once the shadow stage had passed.
    const switched = events.find((e) => e.agentId === canary && e.phase === 'active' && e.version === '1.1.0');
    expect(switched!.atMs).toBeGreaterThanOrEqual(decisionAt(advanced));
    expect(switched!.atMs).toBeGreaterThan(shadowed[0]!.atMs);
    for (const id of IDS) await stack.untilRunning(id, '1.1.0');
    const model = await stack.json<{ version: string }>('models', 'get', 'press', 'production');
    expect(model.version).toBe('1.1.0');
  }, 300_000);
});
