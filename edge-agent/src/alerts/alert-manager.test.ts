import { describe, expect, it } from 'vitest';
import type { AlertEvent, PredictionEvent } from '../domain/prediction.js';
import { AlertManager } from './alert-manager.js';

function pred(decision: PredictionEvent['decision'], asset = 'pump-1'): PredictionEvent {
  return {
    predictionId: 'a:1',
    asset,
    model: 'm',
    modelVersion: 'v1',
    score: decision === 'alert' ? 0.9 : 0.1,
    decision,
    reasons: [
      {
        feature: 'vib.kurtosis',
        value: 9.3,
        unit: '1',
        contribution: 2,
        baseline: 3,
        text: 'vib.kurtosis 3.1x baseline',
      },
    ],
    latencyUs: 5,
    windowStartMs: 0,
    windowEndMs: 0,
    inputBadFraction: 0,
  };
}

function setup(policy = { holdOffMs: 1_000, resolveAfterNormal: 2 }) {
  let now = 0;
  const events: AlertEvent[] = [];
  const m = new AlertManager({ agentId: 'a', policy, now: () => now, emit: (e) => events.push(e) });
  return { m, events, tick: (ms: number) => (now += ms) };
}

describe('AlertManager', () => {
  it('raises once per episode however many windows alert', () => {
    const { m, events } = setup();
    for (let i = 0; i < 10; i++) m.observe(pred('alert'));
    expect(events.map((e) => e.state)).toEqual(['raised']);
    expect(events[0]!.message).toContain('vib.kurtosis 3.1x baseline');
  });

  it('resolves after consecutive normal windows and ignores unknown ones', () => {
    const { m, events } = setup();
    m.observe(pred('alert'));
    m.observe(pred('normal'));
    m.observe(pred('unknown'));
    m.observe(pred('alert'));
    m.observe(pred('normal'));
    expect(events.map((e) => e.state)).toEqual(['raised']);
    m.observe(pred('normal'));
    expect(events.map((e) => e.state)).toEqual(['raised', 'resolved']);
    expect(events[1]!.alertId).toBe(events[0]!.alertId);
  });

  it('holds off a new episode on the same asset, but not on another asset', () => {
    const { m, events, tick } = setup();
    m.observe(pred('alert'));
    m.observe(pred('normal'));
    m.observe(pred('normal'));
    tick(500);
    m.observe(pred('alert'));
    m.observe(pred('alert', 'fan-2'));
    expect(events.map((e) => `${e.asset}:${e.state}`)).toEqual(['pump-1:raised', 'pump-1:resolved', 'fan-2:raised']);
    tick(600);
    m.observe(pred('alert'));
    expect(events.at(-1)).toMatchObject({ asset: 'pump-1', state: 'raised' });
  });

  it('follows a new policy set while running: longer resolve streak and shorter hold-off', () => {
    const { m, events, tick } = setup({ holdOffMs: 60_000, resolveAfterNormal: 2 });
    m.setPolicy({ holdOffMs: 100, resolveAfterNormal: 3 });
    m.observe(pred('alert'));
    m.observe(pred('normal'));
    m.observe(pred('normal'));
    expect(events.map((e) => e.state)).toEqual(['raised']);
    m.observe(pred('normal'));
    expect(events.map((e) => e.state)).toEqual(['raised', 'resolved']);
    tick(200);
    m.observe(pred('alert'));
    expect(events.map((e) => e.state)).toEqual(['raised', 'resolved', 'raised']);
  });
});
