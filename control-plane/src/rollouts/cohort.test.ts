import { describe, expect, it } from 'vitest';
import { assignStages, stageCounts, stratumOf } from './cohort.js';
import type { TargetAgent } from './domain.js';

function agent(id: string, siteId: string, lineId: string, hardware: string, machine: string): TargetAgent {
  return { id, siteId, lineId, labels: { hardware, machine_type: machine }, online: true };
}

function fleet(): TargetAgent[] {
  const out: TargetAgent[] = [];
  for (let i = 0; i < 60; i++)
    out.push(agent(`a-${i}`, 'plant-a', `L${i % 3}`, i % 2 ? 'rpi4' : 'x86', i % 4 ? 'press' : 'pump'));
  for (let i = 0; i < 30; i++) out.push(agent(`b-${i}`, 'plant-b', `L${i % 2}`, 'x86', 'press'));
  for (let i = 0; i < 10; i++) out.push(agent(`c-${i}`, 'plant-c', 'L1', 'rpi4', 'press'));
  return out;
}

describe('stratified cohorts', () => {
  it('covers every site × hardware × machine type stratum in the first stage', () => {
    const agents = fleet();
    const { stageOf } = assignStages(agents, [5, 25, 100], 'press-model');
    const first = agents.filter((a) => stageOf.get(a.id) === 0);
    const coverable = new Set(agents.filter((a) => a.siteId !== 'plant-c').map(stratumOf));
    expect(new Set(first.map(stratumOf))).toEqual(coverable);
  });

  it("never takes a site's only line in the first stage", () => {
    const agents = fleet();
    const { stageOf, uncovered } = assignStages(agents, [5, 25, 100], 'press-model');
    expect(agents.filter((a) => a.siteId === 'plant-c').every((a) => stageOf.get(a.id)! > 0)).toBe(true);
    expect(uncovered).toEqual(['plant-c|rpi4|press']);
  });

  it('fills cumulative stage sizes and puts every agent somewhere', () => {
    const agents = fleet();
    const { stageOf } = assignStages(agents, [5, 25, 100], 'press-model');
    const upTo = (k: number) => [...stageOf.values()].filter((s) => s <= k).length;
    expect(stageOf.size).toBe(100);
    expect(upTo(0)).toBeGreaterThanOrEqual(5);
    expect(upTo(1)).toBe(25);
    expect(upTo(2)).toBe(100);
  });

  it('is stable: the same agents land in the same stages whatever the input order', () => {
    const agents = fleet();
    const a = assignStages(agents, [10, 100], 'm').stageOf;
    const b = assignStages([...agents].reverse(), [10, 100], 'm').stageOf;
    expect([...a].sort()).toEqual([...b].sort());
  });

  it('rounds stage sizes up and gives the last stage the whole target', () => {
    expect(stageCounts(7, [5, 50, 100])).toEqual([1, 4, 7]);
    expect(stageCounts(0, [5, 100])).toEqual([0, 0]);
  });
});
