import { describe, expect, it } from 'vitest';
import { type DriftReport, defaultPolicy, type RetrainingPolicy } from './domain.js';
import { firedBetween, parseCronUtc } from './schedule.js';
import { evaluateTriggers, type TriggerInput } from './triggers.js';

const T0 = Date.UTC(2026, 10, 24, 10, 0, 0);
const H = 3_600_000;

function report(psi: number, samples = 500, version = '1.0.0'): DriftReport {
  return {
    model: 'press',
    version,
    siteId: 'plant-a',
    fromMs: 0,
    toMs: 0,
    features: [{ feature: 'temp.mean', psi, ks: psi / 2, samples }],
    spikeRate: 0,
    stuckRate: 0,
    calibrationDriftChannels: 0,
    alertRate: 0,
    precision: 0,
    labelledAlerts: 0,
    predictions: 0,
  };
}

function input(
  over: Partial<Omit<TriggerInput, 'policy'>> & { policy?: Partial<RetrainingPolicy> } = {},
): TriggerInput {
  const policy = { ...defaultPolicy('press'), driftPsi: 0.25, driftMinSamples: 100, cooldownS: 3600, ...over.policy };
  return {
    cron: policy.cron ? parseCronUtc(policy.cron) : undefined,
    nowMs: T0,
    lastRequest: undefined,
    lastEvaluatedMs: T0 - 60_000,
    drift: [],
    newLabels: 0,
    ...over,
    policy,
  };
}

describe('evaluateTriggers', () => {
  it('raises a drift request naming the drifting version when PSI crosses the threshold', () => {
    const d = evaluateTriggers(input({ drift: [report(0.1), report(0.9, 500, '1.1.0')] }));
    expect(d).toMatchObject({ trigger: 'drift', baseVersion: '1.1.0' });
    expect(d?.reason).toMatch(/temp\.mean PSI 0\.900/);
  });

  it('ignores drift below the threshold or on too few samples', () => {
    expect(evaluateTriggers(input({ drift: [report(0.2)] }))).toBeUndefined();
    expect(evaluateTriggers(input({ drift: [report(0.9, 50)] }))).toBeUndefined();
  });

  it('waits for the cooldown after the last request, and never stacks on an open one', () => {
    const drift = [report(0.9)];
    expect(
      evaluateTriggers(input({ drift, lastRequest: { createdAtMs: T0 - 10 * 60_000, status: 'completed' } })),
    ).toBeUndefined();
    expect(
      evaluateTriggers(input({ drift, lastRequest: { createdAtMs: T0 - 2 * H, status: 'completed' } }))?.trigger,
    ).toBe('drift');
    expect(
      evaluateTriggers(input({ drift, lastRequest: { createdAtMs: T0 - 48 * H, status: 'claimed' } })),
    ).toBeUndefined();
  });

  it('raises a labels request once enough new labels arrived', () => {
    expect(evaluateTriggers(input({ policy: { newLabels: 10 }, newLabels: 9 }))).toBeUndefined();
    expect(evaluateTriggers(input({ policy: { newLabels: 10 }, newLabels: 10 }))?.trigger).toBe('labels');
  });

  it('fires a schedule whose minute passed since the last evaluation, even within the cooldown', () => {
    const last = { createdAtMs: T0 - 60_000, status: 'completed' as const };
    const at = (nowMs: number, lastEvaluatedMs: number) =>
      evaluateTriggers(input({ policy: { cron: '0 10 * * *' }, nowMs, lastEvaluatedMs, lastRequest: last }));
    expect(at(T0 + 30_000, T0 - 30_000)?.trigger).toBe('schedule');
    expect(at(T0 + 90_000, T0 + 30_000)).toBeUndefined();
  });
});

describe('cron', () => {
  it('parses steps, ranges and lists and finds matches in a window', () => {
    const c = parseCronUtc('*/15 9-17 * * 1-5');
    const tuesday = Date.UTC(2026, 10, 24, 9, 14, 0);
    expect(firedBetween(c, tuesday, tuesday + 60_000)).toBe(true);
    expect(firedBetween(c, tuesday + 60_000, tuesday + 10 * 60_000)).toBe(false);
    expect(() => parseCronUtc('61 * * * *')).toThrow(/field 1/);
    expect(() => parseCronUtc('* * *')).toThrow(/5 fields/);
  });
});
