import { describe, expect, it } from 'vitest';
import { MillwrightError } from '../domain/errors.js';
import { gaussian } from '../dsp/random.js';
import type { AssetDriftConfig, ChannelDriftConfig } from './config.js';
import { AssetDriftConfigSchema, ChannelDriftConfigSchema } from './config.js';
import { DriftMonitor } from './drift.js';

const NAMES = ['t_de', 't_nde', 't_case', 'i_motor'];
/** Each channel = offset + gain * load (+ noise): bearing temperatures and motor current follow load. */
const OFFSET = [20, 18, 15, 5];
const GAIN = [0.5, 0.4, 0.2, 0.3];
const NOISE = 0.05;
const LEARN = 60;

function monitor(asset: Partial<AssetDriftConfig> = {}): DriftMonitor {
  const configs: Record<string, ChannelDriftConfig> = {};
  for (const n of NAMES) {
    // Interval means carry 0.05 of noise; the sensors' datasheet tolerance is 0.15.
    configs[n] = ChannelDriftConfigSchema.parse({ siblings: NAMES.filter((s) => s !== n), tolerance: 0.15 });
  }
  return new DriftMonitor(NAMES, configs, AssetDriftConfigSchema.parse({ learnIntervals: LEARN, ...asset }));
}

interface Scenario {
  load: (t: number) => number;
  /** Calibration offset added to channel `i` at interval `t`. */
  bias?: (i: number, t: number) => number;
}

/** Feeds `intervals` rows; returns the first interval at which each channel was drifting (-1 if never). */
function feed(m: DriftMonitor, from: number, intervals: number, s: Scenario, seed: number): number[] {
  const g = gaussian(seed);
  const first = NAMES.map(() => -1);
  const row = new Float64Array(NAMES.length);
  for (let t = from; t < from + intervals; t++) {
    const load = s.load(t);
    for (let i = 0; i < NAMES.length; i++) row[i] = OFFSET[i]! + GAIN[i]! * load + NOISE * g() + (s.bias?.(i, t) ?? 0);
    m.observe(row);
    for (let i = 0; i < NAMES.length; i++) if (first[i] === -1 && m.state(i).drifting) first[i] = t;
  }
  return first;
}

const varyingLoad = (t: number) => 60 + 20 * Math.sin((2 * Math.PI * t) / 17);

describe('DriftMonitor', () => {
  it('arms every channel after learning from a varying load', () => {
    const m = monitor();
    feed(m, 0, LEARN, { load: varyingLoad }, 1);
    expect(NAMES.map((_, i) => m.state(i).status)).toEqual(['armed', 'armed', 'armed', 'armed']);
  });

  it('flags a slowly offset sensor as calibration drift and only that sensor', () => {
    const m = monitor();
    feed(m, 0, LEARN, { load: varyingLoad }, 2);
    // t_nde gains 0.01 degC per interval: 1 degC after 100 intervals.
    const first = feed(m, LEARN, 100, { load: varyingLoad, bias: (i, t) => (i === 1 ? 0.01 * (t - LEARN) : 0) }, 3);
    expect(first[0]).toBe(-1);
    expect(first[2]).toBe(-1);
    expect(first[3]).toBe(-1);
    expect(first[1]).toBeGreaterThan(LEARN);
    // Caught while the offset is still a fraction of a degree.
    expect(0.01 * (first[1]! - LEARN)).toBeLessThan(0.5);
    expect(m.state(1)).toMatchObject({ status: 'armed', drifting: true });
    expect(m.state(1).score).toBeGreaterThanOrEqual(1);
    expect(m.machineChanges).toBe(0);
  });

  it('does not flag a genuine process change that the sibling channels also see', () => {
    const m = monitor();
    feed(m, 0, LEARN, { load: varyingLoad }, 4);
    // Load steps to the top of the learned range and stays there, then ramps back down.
    const first = feed(m, LEARN, 100, { load: (t) => (t < LEARN + 50 ? 78 : 78 - 0.5 * (t - LEARN - 50)) }, 5);
    expect(first).toEqual([-1, -1, -1, -1]);
    expect(NAMES.map((_, i) => m.state(i).score).every((s) => s < 1)).toBe(true);
    expect(m.machineChanges).toBe(0);
  });

  it('withholds its verdict beyond the learned operating range, then relearns there', () => {
    const m = monitor();
    feed(m, 0, LEARN, { load: varyingLoad }, 12);
    // 110 is far above the 40..80 seen while learning: extrapolating the learned gains is not trusted.
    const first = feed(m, LEARN, LEARN - 1, { load: () => 110 }, 13);
    expect(first).toEqual([-1, -1, -1, -1]);
    expect(m.state(0)).toMatchObject({ status: 'extrapolating', drifting: false, score: 0 });
    feed(m, 2 * LEARN - 1, 1, { load: () => 110 }, 14);
    expect(m.machineChanges).toBe(1);
    expect(m.state(0).status).toBe('learning');
  });

  it('tells the drifting sensor apart while the process changes at the same time', () => {
    const m = monitor();
    feed(m, 0, LEARN, { load: varyingLoad }, 6);
    const first = feed(m, LEARN, 100, { load: () => 75, bias: (i, t) => (i === 3 ? -0.01 * (t - LEARN) : 0) }, 7);
    expect(first.map((t) => t >= 0)).toEqual([false, false, false, true]);
  });

  it('never declares drift while the learning window held no machine variation', () => {
    const m = monitor();
    feed(m, 0, LEARN, { load: () => 60 }, 8);
    const first = feed(m, LEARN, 60, { load: () => 60, bias: (i, t) => (i === 0 ? 0.05 * (t - LEARN) : 0) }, 9);
    expect(first).toEqual([-1, -1, -1, -1]);
    expect(m.state(0).status).toBe('learning');
  });

  it('relearns instead of blaming sensors when the machine leaves the learned relationship', () => {
    const m = monitor();
    feed(m, 0, LEARN, { load: varyingLoad }, 10);
    // Every channel jumps by a different, unrelated amount: a new regime, not one bad sensor.
    const jump = [3, -2, 1.5, 4];
    const first = feed(m, LEARN, 5, { load: varyingLoad, bias: (i) => jump[i]! }, 11);
    expect(first).toEqual([-1, -1, -1, -1]);
    expect(m.machineChanges).toBe(1);
    expect(m.state(0).status).toBe('learning');
  });

  it('reports channels without drift config as off', () => {
    const m = new DriftMonitor(['a', 'b'], {}, AssetDriftConfigSchema.parse({}));
    m.observe([1, 2]);
    expect(m.state(0)).toMatchObject({ status: 'off', drifting: false, score: 0 });
  });

  it('rejects a sibling that is not a channel of the asset', () => {
    const cfg = { a: ChannelDriftConfigSchema.parse({ siblings: ['zz'] }) };
    expect(() => new DriftMonitor(['a', 'b'], cfg, AssetDriftConfigSchema.parse({}))).toThrow(MillwrightError);
  });
});
