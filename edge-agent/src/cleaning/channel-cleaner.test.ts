import { describe, expect, it } from 'vitest';
import type { ChannelSpec, SampleBlock } from '../domain/channel.js';
import { Quality } from '../domain/channel.js';
import { MillwrightError } from '../domain/errors.js';
import { gaussian } from '../dsp/random.js';
import { ChannelCleaner } from './channel-cleaner.js';
import type { ChannelCleaningConfig } from './config.js';
import { ChannelCleaningConfigSchema } from './config.js';

const SPEC: ChannelSpec = { name: 'pump1.temp', unit: 'degC', sampleRateHz: 100, kind: 'process', asset: 'pump1' };

function cleaner(config: unknown = {}): ChannelCleaner {
  return new ChannelCleaner(SPEC, ChannelCleaningConfigSchema.parse(config) as ChannelCleaningConfig);
}

function block(values: number[], t0Ms = 0, sampleRateHz = 100): SampleBlock {
  return { channel: SPEC.name, t0Ms, sampleRateHz, values: Float64Array.from(values), length: values.length };
}

interface Out {
  values: number[];
  flags: number[];
  t0s: number[];
}

/** Runs blocks through the cleaner and flushes, collecting every emitted point. */
function run(c: ChannelCleaner, blocks: SampleBlock[]): Out {
  const out: Out = { values: [], flags: [], t0s: [] };
  const sink = (b: { values: Float64Array; flags: Uint8Array; length: number; t0Ms: number }) => {
    out.t0s.push(b.t0Ms);
    for (let i = 0; i < b.length; i++) {
      out.values.push(b.values[i]!);
      out.flags.push(b.flags[i]!);
    }
  };
  for (const b of blocks) c.process(b, sink);
  c.flush(sink);
  return out;
}

function noisy(n: number, level: number, sigma: number, seed: number): number[] {
  const g = gaussian(seed);
  return Array.from({ length: n }, () => level + sigma * g());
}

function indicesWith(flags: number[], bit: number): number[] {
  return flags.flatMap((f, i) => ((f & bit) !== 0 ? [i] : []));
}

describe('ChannelCleaner', () => {
  it('passes every raw value through unchanged and in order, across block boundaries', () => {
    const values = noisy(1000, 20, 0.1, 1);
    values[500] = 80;
    const blocks = [0, 137, 400, 999].map((from, i, a) => block(values.slice(from, a[i + 1] ?? 1000), from * 10));
    const out = run(cleaner(), blocks);
    expect(out.values).toEqual(values);
  });

  it('flags an injected spike and nothing else in a noisy signal', () => {
    const values = noisy(400, 20, 0.1, 2);
    values[200] = 25;
    const c = cleaner();
    const out = run(c, [block(values)]);
    expect(indicesWith(out.flags, Quality.SPIKE)).toEqual([200]);
    expect(c.snapshot().spikes).toBe(1);
  });

  it('does not flag a step change as spikes', () => {
    const values = [...noisy(200, 20, 0.1, 3), ...noisy(200, 30, 0.1, 4)];
    const out = run(cleaner(), [block(values)]);
    expect(indicesWith(out.flags, Quality.SPIKE)).toEqual([]);
  });

  it('decides a spike in the last samples of a block once the next block arrives', () => {
    const a = noisy(100, 20, 0.1, 5);
    a[99] = 30;
    const out = run(cleaner(), [block(a), block(noisy(100, 20, 0.1, 6), 1000)]);
    expect(indicesWith(out.flags, Quality.SPIKE)).toEqual([99]);
  });

  it('lags its output by the Hampel half-width and releases the tail on flush', () => {
    const c = cleaner({ hampel: { halfWidth: 5 } });
    const lengths: number[] = [];
    c.process(block(noisy(50, 1, 0.1, 7)), (b) => lengths.push(b.length));
    c.flush((b) => lengths.push(b.length));
    expect(lengths).toEqual([45, 5]);
  });

  it('flags NaN and infinities and keeps them out of the spike statistics', () => {
    const values = noisy(100, 5, 0.1, 8);
    values[10] = Number.NaN;
    values[11] = Number.POSITIVE_INFINITY;
    values[12] = Number.NEGATIVE_INFINITY;
    const c = cleaner();
    const out = run(c, [block(values)]);
    expect(indicesWith(out.flags, Quality.NAN_OR_INF)).toEqual([10, 11, 12]);
    expect(indicesWith(out.flags, Quality.SPIKE)).toEqual([]);
    expect(Number.isNaN(out.values[10])).toBe(true);
    expect(out.values[11]).toBe(Number.POSITIVE_INFINITY);
    const q = c.snapshot();
    expect(q.nanOrInf).toBe(3);
    expect(q.points).toBe(100);
  });

  it('flags values outside the configured range', () => {
    const c = cleaner({ range: { min: 0, max: 100 }, hampel: null });
    const out = run(c, [block([50, -1, 100, 100.5, 0])]);
    expect(out.flags).toEqual([0, Quality.OUT_OF_RANGE, 0, Quality.OUT_OF_RANGE, 0]);
    expect(c.snapshot().outOfRange).toBe(2);
  });

  it('flags a stuck sensor from the configured run length on', () => {
    const c = cleaner({ hampel: null, stuck: { minRun: 4 } });
    const out = run(c, [block([1, 2, 3, 3, 3, 3, 3, 3, 4])]);
    expect(indicesWith(out.flags, Quality.STUCK)).toEqual([5, 6, 7]);
    expect(c.snapshot().stuck).toBe(3);
  });

  it('treats values within epsilon of the run start as stuck', () => {
    const c = cleaner({ hampel: null, stuck: { minRun: 3, epsilon: 0.01 } });
    const out = run(c, [block([7, 7.005, 6.995, 7.01, 7.5])]);
    expect(indicesWith(out.flags, Quality.STUCK)).toEqual([2, 3]);
  });

  it('detects a gap from block timestamps and marks the first point after it', () => {
    const c = cleaner();
    // 100 Hz: 10 ms per sample. Second block continues exactly; third starts 50 ms late.
    const out = run(c, [
      block(noisy(20, 1, 0.1, 9), 0),
      block(noisy(20, 1, 0.1, 10), 200),
      block(noisy(20, 1, 0.1, 11), 450),
    ]);
    expect(indicesWith(out.flags, Quality.AFTER_GAP)).toEqual([40]);
    // Points leave 8 samples late: the pending tail is released before the gap.
    expect(out.t0s).toEqual([0, 120, 320, 450, 570]);
    expect(c.snapshot().gaps).toBe(1);
  });

  it('tolerates timestamp jitter below the gap threshold', () => {
    const c = cleaner({ gap: { minMissingSamples: 2 } });
    run(c, [block([1], 0), block([1], 14), block([1], 21), block([1], 45)]);
    expect(c.snapshot().gaps).toBe(0);
  });

  it('resets its counts on snapshot but keeps the drift verdict', () => {
    const c = cleaner();
    run(c, [block([Number.NaN, 1, 1])]);
    c.setDrift(true, 1.5);
    expect(c.snapshot()).toEqual({
      channel: 'pump1.temp',
      points: 3,
      nanOrInf: 1,
      outOfRange: 0,
      spikes: 0,
      stuck: 0,
      gaps: 0,
      calibrationDrift: true,
      driftScore: 1.5,
    });
    expect(c.snapshot()).toMatchObject({ points: 0, nanOrInf: 0, calibrationDrift: true, driftScore: 1.5 });
  });

  it('marks points taken while drift is suspected', () => {
    const c = cleaner({ hampel: null });
    c.setDrift(true, 2);
    const out = run(c, [block([1, 2])]);
    expect(out.flags).toEqual([Quality.DRIFTING, Quality.DRIFTING]);
  });

  it('reports the mean level of clean points for drift detection', () => {
    const c = cleaner({ hampel: null, range: { max: 10 } });
    run(c, [block([1, 2, 3, 50, Number.NaN])]);
    expect(c.takeLevel()).toBe(2);
    expect(c.takeLevel()).toBeNaN();
  });

  it('rejects a block of another channel', () => {
    const c = cleaner();
    const wrong = { ...block([1]), channel: 'other' };
    expect(() => c.process(wrong, () => {})).toThrow(MillwrightError);
  });
});
