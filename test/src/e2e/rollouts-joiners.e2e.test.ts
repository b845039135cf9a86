import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../harness/index.js';
import { type DecisionJson, RolloutStack, SLOW } from './rollouts-stack.js';

/** j1 and j2 match the selector from the start (on two lines); j3 does not yet; j4 enrols later. */
const J1 = { id: 'j1', site: 'plant-j', line: 'L1', labels: { group: 'g1' } };
const J2 = { id: 'j2', site: 'plant-j', line: 'L2', labels: { group: 'g1' } };
const J3 = { id: 'j3', site: 'plant-j', line: 'L1', labels: { group: 'other' } };
const J4 = { id: 'j4', site: 'plant-j', line: 'L2', labels: { group: 'g1' } };

describe('agents that enrol or start matching the selector mid-rollout join at the stage reached', () => {
  let stack: RolloutStack;
  let id = '';
  let canary = '';
  let second = '';

  const joins = async (agent: string): Promise<DecisionJson[]> =>
    (await stack.status(id)).decisions.filter((d) => d.kind === 'agent_joined' && d.reason?.includes(agent));
  const cohort = async (stage: number) => (await stack.status(id)).rollout.stages[stage]!.cohortSize ?? 0;

  beforeAll(async () => {
    stack = await RolloutStack.start('mw-rollouts-joiners');
    await stack.push('1.0.0', 0);
    for (const a of [J1, J2, J3]) await stack.startAgent(a);
    await stack.untilOnline([J1.id, J2.id, J3.id]);
  }, 300_000);

  afterAll(async () => {
    await stack?.dispose();
  }, 120_000);

  it('updates an agent enrolling during the canary with the canary, ahead of the later stage', async () => {
    // Long bakes hold each stage until the operator promotes: nothing here depends on timing.
    const args = ['--model', 'press', '--version', '1.0.0', '--label', 'group=g1', '--stages', '50:600,100:600'];
    const plan = await stack.json<{ stages: { agentIds: string[] }[] }>('rollouts', 'plan', ...args);
    canary = plan.stages[0]!.agentIds[0] ?? '';
    second = plan.stages[1]!.agentIds[0] ?? '';
    expect([canary, second].sort()).toEqual([J1.id, J2.id]);
    id = (await stack.startRollout(...args)).id;
    await stack.untilRunning(canary, '1.0.0');
    await stack.startAgent(J4);
    await stack.untilRunning(J4.id, '1.0.0');
    const joined = await joins(J4.id);
    expect(joined).toHaveLength(1);
    expect(joined[0]!.stage ?? 0).toBe(0);
    expect(await cohort(0)).toBe(2);
    const s = await stack.status(id);
    expect(s.rollout.currentStage ?? 0).toBe(0);
    expect((await stack.agent(second)).runningModelVersion ?? '').toBe('');
  }, 300_000);

  it('takes an agent whose labels start matching after a promotion into the stage reached', async () => {
    await stack.ok('rollouts', 'promote', id, '--reason', 'canary looks fine');
    await stack.untilRunning(second, '1.0.0');
    await stack.relabel(J3.id, { group: 'g1' });
    await stack.untilRunning(J3.id, '1.0.0');
    const joined = await joins(J3.id);
    expect(joined).toHaveLength(1);
    expect(joined[0]!.stage).toBe(1);
    expect(await cohort(1)).toBe(2);
    expect((await stack.status(id)).rollout.status).toBe('running');
  }, 300_000);

  it('lets a member that left the target (pinned) join again once it matches again', async () => {
    await stack.ok('fleet', 'pin', J3.id, '--reason', 'maintenance');
    await waitFor('j3 left the rollout', async () => ((await cohort(1)) === 1 ? true : undefined), SLOW, 250);
    await stack.ok('fleet', 'unpin', J3.id);
    await waitFor('j3 back in the rollout', async () => ((await cohort(1)) === 2 ? true : undefined), SLOW, 250);
    const joined = await joins(J3.id);
    expect(joined.map((d) => d.stage)).toEqual([1, 1]);
    await stack.ok('rollouts', 'abort', id, '--reason', 'end of test');
  }, 300_000);
});
