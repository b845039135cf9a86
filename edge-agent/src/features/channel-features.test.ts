import { describe, expect, it } from 'vitest';
import type { CleanedBlock } from '../cleaning/channel-cleaner.js';
import type { ChannelSpec } from '../domain/channel.js';
import { Quality } from '../domain/channel.js';
import { MillwrightError } from '../domain/errors.js';
import { gaussian } from '../dsp/random.js';
import { ChannelFeatures } from './channel-features.js';
import type { ChannelFeatureConfig } from './config.js';
import { ChannelFeatureConfigSchema } from './config.js';

const FS = 25_600;
const VIB: ChannelSpec = { name: 'pump1.vib_h', unit: 'g', sampleRateHz: FS, kind: 'vibration', asset: 'pump1' };
const TEMP: ChannelSpec = { name: 'pump1.temp', unit: 'degC', sampleRateHz: 1, kind: 'process', asset: 'pump1' };

function extractor(spec: ChannelSpec, config: unknown = {}): ChannelFeatures {
  return new ChannelFeatures(spec, ChannelFeatureConfigSchema.parse(config) as ChannelFeatureConfig);
}

function cleaned(spec: ChannelSpec, values: ArrayLike<number>, flags?: ArrayLike<number>, t0Ms = 0): CleanedBlock {
  return {
    channel: spec.name,
    t0Ms,
    sampleRateHz: spec.sampleRateHz,
    values: Float64Array.from(values),
    flags: flags === undefined ? new Uint8Array(values.length) : Uint8Array.from(flags),
    length: values.length,
  };
}

function feature(e: ChannelFeatures, name: string): number {
  const i = e.features.findIndex((f) => f.name === `${e.spec.name}.${name}`);
  if (i < 0) throw new Error(`no feature ${name}`);
  return e.values[i]!;
}

/** 1600 Hz at 25.6 kHz: 16 samples per cycle, exactly 128 cycles per 2048-point window. */
function sine(n: number, amplitude: number, hz = 1600): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => amplitude * Math.sin((2 * Math.PI * hz * i) / FS));
}

describe('ChannelFeatures on vibration', () => {
  it('gives a sine its textbook RMS, peak, crest factor, kurtosis and skewness', () => {
    const e = extractor(VIB);
    e.push(cleaned(VIB, sine(2048, 2)));
    expect(e.windows).toBe(1);
    expect(feature(e, 'rms')).toBeCloseTo(Math.SQRT2, 10);
    expect(feature(e, 'peak')).toBeCloseTo(2, 10);
    expect(feature(e, 'crest')).toBeCloseTo(Math.SQRT2, 10);
    expect(feature(e, 'kurtosis')).toBeCloseTo(1.5, 10);
    expect(feature(e, 'skewness')).toBeCloseTo(0, 10);
  });

  it('gives Gaussian noise a kurtosis near 3 and a skewness near 0', () => {
    const e = extractor(VIB, { windowSize: 16_384 });
    const g = gaussian(5);
    e.push(
      cleaned(
        VIB,
        Float64Array.from({ length: 16_384 }, () => 0.3 * g()),
      ),
    );
    // Standard errors at n = 16384: kurtosis ~0.04, skewness ~0.02.
    expect(Math.abs(feature(e, 'kurtosis') - 3)).toBeLessThan(0.15);
    expect(Math.abs(feature(e, 'skewness'))).toBeLessThan(0.08);
    expect(feature(e, 'rms')).toBeCloseTo(0.3, 2);
  });

  it('removes the DC offset before computing vibration features', () => {
    const e = extractor(VIB);
    e.push(
      cleaned(
        VIB,
        sine(2048, 1).map((x) => x + 1),
      ),
    );
    expect(feature(e, 'rms')).toBeCloseTo(Math.SQRT1_2, 10);
    expect(feature(e, 'peak')).toBeCloseTo(1, 10);
  });

  it('puts the energy of a tone into its band, the bands summing to rms squared', () => {
    const bands = [
      { lowHz: 0, highHz: 1000 },
      { lowHz: 1000, highHz: 2000 },
      { lowHz: 2000, highHz: 12_801 },
    ];
    const e = extractor(VIB, { bands });
    e.push(cleaned(VIB, sine(2048, 2, 1500)));
    expect(feature(e, 'band_1000_2000')).toBeCloseTo(2, 10);
    expect(feature(e, 'band_0_1000')).toBeLessThan(1e-20);
    expect(feature(e, 'band_2000_12801')).toBeLessThan(1e-20);
  });

  it('zero-pads a 2560-point window to a 4096-point FFT and keeps Parseval', () => {
    const bands = [
      { lowHz: 0, highHz: 2000 },
      { lowHz: 2000, highHz: 12_801 },
    ];
    const e = extractor(VIB, { windowSize: 2560, bands });
    const g = gaussian(6);
    e.push(
      cleaned(
        VIB,
        Float64Array.from({ length: 2560 }, () => g()),
      ),
    );
    const total = feature(e, 'band_0_2000') + feature(e, 'band_2000_12801');
    expect(total).toBeCloseTo(feature(e, 'rms') ** 2, 10);
  });

  it('keeps a flagged electrical spike out of the features and counts it as bad', () => {
    const clean = extractor(VIB);
    clean.push(cleaned(VIB, sine(2048, 1)));
    const values = sine(2048, 1);
    const flags = new Uint8Array(2048);
    values[1000] = 50;
    flags[1000] = Quality.SPIKE;
    const e = extractor(VIB);
    e.push(cleaned(VIB, values, flags));
    expect(e.badFraction).toBe(1 / 2048);
    expect(feature(e, 'kurtosis')).toBeCloseTo(feature(clean, 'kurtosis'), 2);
    expect(feature(e, 'peak')).toBeLessThan(1.01);
    // The same spike, not excluded, fakes an impulsive fault.
    const naive = extractor(VIB, { exclude: [] });
    naive.push(cleaned(VIB, values, flags));
    expect(feature(naive, 'kurtosis')).toBeGreaterThan(100);
  });

  it('excludes NaN and infinite points, whatever the exclusion list says', () => {
    const values = sine(2048, 1);
    const flags = new Uint8Array(2048);
    for (const i of [3, 700]) {
      values[i] = i === 3 ? Number.NaN : Number.POSITIVE_INFINITY;
      flags[i] = Quality.NAN_OR_INF;
    }
    const e = extractor(VIB, { exclude: [] });
    e.push(cleaned(VIB, values, flags));
    expect(e.badFraction).toBe(2 / 2048);
    expect(Array.from(e.values).every(Number.isFinite)).toBe(true);
    expect(feature(e, 'rms')).toBeCloseTo(Math.SQRT1_2, 2);
  });

  it('assembles windows across blocks and reports their time span', () => {
    const e = extractor(VIB, { windowSize: 256 });
    const windows: number[][] = [];
    const listener = new ChannelFeatures(VIB, ChannelFeatureConfigSchema.parse({ windowSize: 256 }), (x) =>
      windows.push([x.windowStartMs, x.windowEndMs]),
    );
    const signal = sine(600, 1);
    for (const [from, to] of [
      [0, 100],
      [100, 600],
    ] as const) {
      const b = cleaned(VIB, signal.subarray(from, to), undefined, (from * 1000) / FS);
      e.push(b);
      listener.push(b);
    }
    expect(e.windows).toBe(2);
    expect(windows).toEqual([
      [0, (256 * 1000) / FS],
      [(256 * 1000) / FS, (512 * 1000) / FS],
    ]);
  });

  it('yields NaN features for a window without two good points', () => {
    const e = extractor(VIB, { windowSize: 4 });
    e.push(cleaned(VIB, [1, 2, 3, 4], [Quality.SPIKE, Quality.SPIKE, Quality.SPIKE, 0]));
    expect(e.badFraction).toBe(0.75);
    expect(Array.from(e.values).every(Number.isNaN)).toBe(true);
  });

  it('names its features with units', () => {
    const e = extractor(VIB, { bands: [{ lowHz: 0.5, highHz: 10 }] });
    expect(e.features).toEqual([
      { name: 'pump1.vib_h.rms', unit: 'g' },
      { name: 'pump1.vib_h.peak', unit: 'g' },
      { name: 'pump1.vib_h.crest', unit: '1' },
      { name: 'pump1.vib_h.kurtosis', unit: '1' },
      { name: 'pump1.vib_h.skewness', unit: '1' },
      { name: 'pump1.vib_h.band_0p5_10', unit: 'g^2' },
    ]);
  });
});

describe('ChannelFeatures on process channels', () => {
  it('gives a linear ramp its mean, min, max, std and rate of change', () => {
    const e = extractor(TEMP, { windowSize: 60 });
    // 1 Hz samples of 40 + 0.5 degC/s.
    e.push(
      cleaned(
        TEMP,
        Float64Array.from({ length: 60 }, (_, i) => 40 + 0.5 * i),
      ),
    );
    expect(feature(e, 'mean')).toBeCloseTo(54.75, 10);
    expect(feature(e, 'min')).toBe(40);
    expect(feature(e, 'max')).toBe(69.5);
    // Population std of 0..59 is sqrt((60^2 - 1) / 12), times 0.5.
    expect(feature(e, 'std')).toBeCloseTo(0.5 * Math.sqrt((60 * 60 - 1) / 12), 10);
    expect(feature(e, 'rate_of_change')).toBeCloseTo(0.5, 10);
    expect(e.features.map((f) => f.unit)).toEqual(['degC', 'degC', 'degC', 'degC', 'degC/s']);
  });

  it('ignores an out-of-range point in min, max and the slope', () => {
    const values = Float64Array.from({ length: 10 }, (_, i) => 2 * i);
    const flags = new Uint8Array(10);
    values[5] = 1e6;
    flags[5] = Quality.OUT_OF_RANGE;
    const e = extractor(TEMP, { windowSize: 10 });
    e.push(cleaned(TEMP, values, flags));
    expect(feature(e, 'max')).toBe(18);
    expect(feature(e, 'rate_of_change')).toBeCloseTo(2, 10);
  });

  it('refuses band energies on a process channel', () => {
    expect(() => extractor(TEMP, { bands: [{ lowHz: 0, highHz: 0.1 }] })).toThrow(MillwrightError);
  });
});
