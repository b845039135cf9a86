import { describe, expect, it } from 'vitest';
import { FakeConditions } from './fakes.js';
import { evaluateSwitch } from './switch-policy.js';
import { EMPTY_RULES, type SwitchRules } from './types.js';

const signal = new AbortController().signal;
const noon = Date.parse('2026-06-10T12:00:00Z');
const rules = (over: Partial<SwitchRules>): SwitchRules => ({ ...EMPTY_RULES, ...over });

describe('switch policy', () => {
  it('allows a switch at any time without windows or condition', async () => {
    expect((await evaluateSwitch(rules({}), noon, new FakeConditions(), signal)).allowed).toBe(true);
  });

  it('defers outside every maintenance window and says when the next opens', async () => {
    const r = rules({ windows: [{ cron: '0 2 * * *', durationS: 3600 }], timeZone: 'Europe/Berlin' });
    const v = await evaluateSwitch(r, noon, new FakeConditions(), signal);
    expect(v.allowed).toBe(false);
    expect(v.reason).toMatch(/outside maintenance windows \(Europe\/Berlin\); next opens 2026-06-11T00:00:00.000Z/);
    expect((await evaluateSwitch(r, Date.parse('2026-06-11T00:10:00Z'), new FakeConditions(), signal)).allowed).toBe(
      true,
    );
  });

  it('keeps the switch closed when a window cannot be evaluated', async () => {
    const bad = rules({ windows: [{ cron: '0 2 * *', durationS: 60 }] });
    const v = await evaluateSwitch(bad, noon, new FakeConditions(), signal);
    expect(v).toMatchObject({ allowed: false });
    expect(v.reason).toMatch(/cannot be evaluated/);
    const zone = rules({ windows: [{ cron: '* * * * *', durationS: 60 }], timeZone: 'Nowhere/City' });
    expect((await evaluateSwitch(zone, noon, new FakeConditions(), signal)).allowed).toBe(false);
  });

  it('defers while the edge condition does not hold, and switches once it does', async () => {
    const conditions = new FakeConditions();
    const r = rules({ condition: 'plc.batch_running == 0' });
    conditions.values.set('plc.batch_running == 0', false);
    const v = await evaluateSwitch(r, noon, conditions, signal);
    expect(v.allowed).toBe(false);
    expect(v.reason).toMatch(/condition 'plc.batch_running == 0' does not hold/);
    conditions.values.set('plc.batch_running == 0', true);
    expect((await evaluateSwitch(r, noon, conditions, signal)).allowed).toBe(true);
  });

  it('treats an unknown condition as not holding', async () => {
    expect((await evaluateSwitch(rules({ condition: 'x' }), noon, new FakeConditions(), signal)).allowed).toBe(false);
  });

  it('lets force override both the condition and the windows without asking the condition', async () => {
    const conditions = new FakeConditions();
    const r = rules({ condition: 'c', force: true, windows: [{ cron: '0 2 * * *', durationS: 60 }] });
    expect(await evaluateSwitch(r, noon, conditions, signal)).toEqual({ allowed: true, reason: 'forced' });
    expect(conditions.evaluations).toBe(0);
  });
});
