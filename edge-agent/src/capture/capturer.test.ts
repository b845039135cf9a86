import { describe, expect, it } from 'vitest';
import type { PredictionEvent } from '../domain/prediction.js';
import { type CapturedWindow, Capturer } from './capturer.js';
import { type CapturePolicy, effectivePolicy } from './policy.js';

const BASE: CapturePolicy = {
  enabled: true,
  uncertain: true,
  alerts: true,
  randomRate: 0,
  aroundLabelS: 10,
  includeRaw: false,
  includeFeatures: true,
  maxSamplesPerHour: 1000,
  maxBytesPerHour: 10_000_000,
};

function prediction(i: number, decision: PredictionEvent['decision'] = 'normal', asset = 'pump1'): PredictionEvent {
  return {
    predictionId: `a:b:${i}`,
    asset,
    model: 'm',
    modelVersion: '1',
    score: 0.1,
    decision,
    reasons: [],
    latencyUs: 5,
    windowStartMs: i * 1000 - 1000,
    windowEndMs: i * 1000,
    inputBadFraction: 0,
  };
}

function harness(policy: Partial<CapturePolicy>, random = () => 0.99) {
  const out: CapturedWindow[] = [];
  let now = 0;
  const c = new Capturer({
    policy: () => ({ ...BASE, ...policy }),
    now: () => now,
    random,
    raw: () => [],
    emit: (w) => out.push(w),
  });
  const see = (i: number, decision: PredictionEvent['decision'] = 'normal', uncertain = false) => {
    now = i * 1000;
    c.observe(prediction(i, decision), ['x', 'y'], [i, -i], uncertain);
  };
  return { c, out, see, setNow: (t: number) => (now = t) };
}

describe('Capturer', () => {
  it('keeps alerts and uncertain windows and nothing else when the random rate is 0', () => {
    const { out, see } = harness({});
    see(1);
    see(2, 'alert');
    see(3, 'normal', true);
    see(4);
    expect(out.map((w) => [w.prediction.predictionId, w.reason])).toEqual([
      ['a:b:2', 'alert'],
      ['a:b:3', 'uncertain'],
    ]);
    expect(out[0]!.names).toEqual(['x', 'y']);
    expect(out[0]!.values).toEqual([2, -2]);
  });

  it('keeps the random fraction the random source selects', () => {
    let n = 0;
    const { out, see } = harness({ randomRate: 0.5 }, () => (n++ % 2 === 0 ? 0.1 : 0.9));
    for (let i = 1; i <= 10; i++) see(i);
    expect(out.map((w) => w.reason)).toEqual(Array(5).fill('random'));
  });

  it('captures nothing while disabled', () => {
    const { out, see } = harness({ enabled: false });
    see(1, 'alert');
    expect(out).toEqual([]);
  });

  it('flushes the remembered windows around a label and keeps the ones after it', () => {
    const { c, out, see } = harness({ aroundLabelS: 3, alerts: false, uncertain: false });
    for (let i = 1; i <= 10; i++) see(i);
    expect(out).toEqual([]);
    // The ring remembers 3 s (windows 7..10), all within 3 s of the labelled window 8.
    expect(c.label('a:b:8', 10_000)).toBe(4);
    see(11);
    see(12);
    see(20);
    const ids = out.map((w) => Number(w.prediction.predictionId.split(':')[2]));
    expect(ids.slice(0, 4)).toEqual([7, 8, 9, 10]);
    expect(ids).toContain(11);
    expect(ids).not.toContain(20);
    expect(out.every((w) => w.reason === 'label')).toBe(true);
  });

  it('enforces the hourly sample limit, counts the refusals and resets at the next hour', () => {
    const { c, out, see, setNow } = harness({ maxSamplesPerHour: 3 });
    for (let i = 1; i <= 5; i++) see(i, 'alert');
    expect(out).toHaveLength(3);
    expect(c.takeStats()).toMatchObject({ captured: { alert: 3 }, limitedSamples: 2 });
    setNow(3_600_000);
    c.observe(prediction(3600, 'alert'), ['x'], [1], false);
    expect(out).toHaveLength(4);
  });

  it('enforces the hourly byte limit', () => {
    const { c, out, see } = harness({ maxBytesPerHour: 400 });
    for (let i = 1; i <= 5; i++) see(i, 'alert');
    expect(out.length).toBeGreaterThan(0);
    expect(out.length).toBeLessThan(5);
    const total = out.reduce((s, w) => s + w.bytes, 0);
    expect(total).toBeLessThanOrEqual(400);
    expect(c.takeStats().limitedBytes).toBe(5 - out.length);
  });
});

describe('effectivePolicy', () => {
  const CAPS = { maxSamplesPerHour: BASE.maxSamplesPerHour, maxBytesPerHour: BASE.maxBytesPerHour };

  it('takes the desired rules but keeps the config limits where the desired one leaves them 0', () => {
    const p = effectivePolicy(BASE, { ...BASE, randomRate: 2, maxSamplesPerHour: 0, maxBytesPerHour: 5 }, CAPS);
    expect(p).toMatchObject({ randomRate: 1, maxSamplesPerHour: 1000, maxBytesPerHour: 5 });
    expect(effectivePolicy(BASE, undefined, CAPS)).toEqual(BASE);
  });

  it('never lets a desired policy lift the plant caps', () => {
    const p = effectivePolicy(BASE, { ...BASE, maxSamplesPerHour: 100_000, maxBytesPerHour: 1e9 }, CAPS);
    expect(p).toMatchObject({ maxSamplesPerHour: 1000, maxBytesPerHour: 10_000_000 });
  });

  it('never lets the config layers lift the plant caps either, but lets both lower them', () => {
    const lifted = { ...BASE, maxSamplesPerHour: 50_000, maxBytesPerHour: 0 };
    expect(effectivePolicy(lifted, undefined, CAPS)).toMatchObject({
      maxSamplesPerHour: 1000,
      maxBytesPerHour: 10_000_000,
    });
    const lowered = { ...BASE, maxSamplesPerHour: 40 };
    expect(effectivePolicy(lowered, { ...BASE, maxBytesPerHour: 300 }, CAPS)).toMatchObject({
      maxSamplesPerHour: 40,
      maxBytesPerHour: 300,
    });
  });

  it('lets a remote policy set a limit where the plant set none', () => {
    const uncapped = { maxSamplesPerHour: 0, maxBytesPerHour: 0 };
    const none = { ...BASE, maxSamplesPerHour: 0, maxBytesPerHour: 0 };
    expect(effectivePolicy(none, undefined, uncapped)).toMatchObject({ maxSamplesPerHour: 0, maxBytesPerHour: 0 });
    expect(effectivePolicy(none, { ...none, maxSamplesPerHour: 70 }, uncapped)).toMatchObject({
      maxSamplesPerHour: 70,
      maxBytesPerHour: 0,
    });
  });
});

describe('Capturer labels', () => {
  it('keeps a labelled window again when a rule kept it before the label', () => {
    const { c, out, see } = harness({ aroundLabelS: 2 });
    see(1, 'alert');
    expect(c.label('a:b:1', 1500)).toBe(1);
    expect(out.map((w) => [w.prediction.predictionId, w.reason])).toEqual([
      ['a:b:1', 'alert'],
      ['a:b:1', 'label'],
    ]);
  });
});
