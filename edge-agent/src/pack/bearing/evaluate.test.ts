import { describe, expect, it } from 'vitest';
import type { Decision } from '../../domain/model.js';
import { alertEpisodeStarts, RmsSigmaBaseline, scoreRun } from './evaluate.js';

const MIN = 60_000;

describe('scoreRun', () => {
  it('counts episodes before half-life as false alerts and measures lead from the first one', () => {
    const tMs = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100].map((m) => m * MIN);
    const active = [false, false, false, true, false, false, false, true, true, true, true];
    const o = scoreRun({ name: 'r', tMs, active, commissioningEndMs: 10 * MIN, startMs: 0, failureMs: 100 * MIN });
    expect(o).toMatchObject({ falseAlerts: 1, episodes: 2, leadMin: 70, detected: true });
  });

  it('does not detect a run first alerted less than 10 minutes before failure', () => {
    const tMs = [0, 50, 95, 100].map((m) => m * MIN);
    const o = scoreRun({
      name: 'r',
      tMs,
      active: [false, false, true, true],
      commissioningEndMs: 10 * MIN,
      startMs: 0,
      failureMs: 100 * MIN,
    });
    expect(o.detected).toBe(false);
  });
});

describe('RmsSigmaBaseline', () => {
  it('alarms after three consecutive windows above mean + 3 sigma of commissioning', () => {
    const b = new RmsSigmaBaseline(600_000);
    for (const [i, v] of [1, 1.1, 0.9, 1].entries()) expect(b.update(v, i * 100_000, 0)).toBe(false);
    const verdicts = [2, 2, 1, 2, 2, 2].map((v, i) => b.update(v, 700_000 + i * 10_000, 0));
    expect(verdicts).toEqual([false, false, false, false, false, true]);
  });
});

describe('alertEpisodeStarts', () => {
  it('counts a flickering alarm as one episode and holds off a new one after it resolves', () => {
    const d = (s: string): Decision[] => [...s].map((c) => (c === 'A' ? 'alert' : 'normal'));
    // One minute per window: alert, one normal, alert again (same episode), five normals resolve it
    // at minute 7; an alert a minute later is held off, one 13 minutes later opens a new episode.
    const decisions = d('AnAnnnnnAnnnnnnnnnnnAA');
    const at = decisions.map((_, i) => i * MIN);
    expect(alertEpisodeStarts(decisions, at)).toEqual([0, 20 * MIN]);
  });
});
