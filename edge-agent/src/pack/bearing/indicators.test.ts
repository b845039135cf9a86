import { describe, expect, it } from 'vitest';
import { EnvelopeSpectrum } from './envelope.js';
import { SKF_6205 } from './geometry.js';
import { type IndicatorConfig, IndicatorExtractor, indicatorSpecs } from './indicators.js';
import { medianInPlace } from './select.js';

const FS = 12_000;
const N = 4096;

function amTone(carrierHz: number, modHz: number, depth: number): Float64Array {
  const x = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    const t = i / FS;
    x[i] = (1 + depth * Math.cos(2 * Math.PI * modHz * t)) * Math.sin(2 * Math.PI * carrierHz * t);
  }
  return x;
}

describe('EnvelopeSpectrum', () => {
  it('finds the modulation frequency of an amplitude-modulated resonance', () => {
    const env = new EnvelopeSpectrum(N, FS, [2000, 5000]);
    const p = env.compute(amTone(3500, 107.4, 0.8), 0, 1, N);
    let best = 1;
    for (let k = 2; k < 400; k++) if (p[k]! > p[best]!) best = k;
    expect(Math.abs(best * env.binHz - 107.4)).toBeLessThan(env.binHz);
  });

  it('ignores a modulated carrier outside the band', () => {
    const env = new EnvelopeSpectrum(N, FS, [2000, 5000]);
    const p = env.compute(amTone(500, 107.4, 0.8), 0, 1, N);
    expect(Math.max(...p)).toBeLessThan(1e-6);
  });
});

const config: IndicatorConfig = {
  sampleRateHz: FS,
  fftSize: N,
  bandsHz: [
    [0, 2000],
    [2000, 6000],
  ],
  envelopeBandHz: [2000, 5000],
  envelopeBackgroundHz: [5, 1000],
  harmonics: 2,
  defectTolerance: 0.03,
  geometry: SKF_6205,
};

describe('IndicatorExtractor', () => {
  it('computes RMS, crest and kurtosis of a sine', () => {
    const ext = new IndicatorExtractor(config);
    const x = new Float64Array(N);
    for (let i = 0; i < N; i++) x[i] = 2 * Math.sin((2 * Math.PI * 128 * i) / N);
    const out = new Float64Array(ext.count);
    ext.compute(x, 0, 1, N, 29.95, out);
    expect(out[0]).toBeCloseTo(Math.SQRT2, 6);
    expect(out[2]).toBeCloseTo(Math.SQRT2, 3);
    expect(out[3]).toBeCloseTo(1.5, 6);
    expect(out[4]! + out[5]!).toBeCloseTo(2, 6);
  });

  it('raises envelope energy at BPFO for impacts at the outer-race rate', () => {
    const ext = new IndicatorExtractor(config);
    const names = indicatorSpecs(config).map((s) => s.name);
    const out = new Float64Array(ext.count);
    ext.compute(amTone(3500, 107.36, 0.9), 0, 1, N, 29.95, out);
    const bpfo = out[names.indexOf('env_bpfo')]!;
    expect(bpfo).toBeGreaterThan(50 * out[names.indexOf('env_bpfi')]!);
    expect(bpfo).toBeGreaterThan(50 * out[names.indexOf('env_bsf')]!);
  });

  it('reads one channel of interleaved samples without copying', () => {
    const ext = new IndicatorExtractor(config);
    const x = amTone(3500, 107.36, 0.9);
    const inter = new Float64Array(2 * N);
    for (let i = 0; i < N; i++) inter[2 * i + 1] = x[i]!;
    const a = new Float64Array(ext.count);
    const b = new Float64Array(ext.count);
    ext.compute(x, 0, 1, N, 29.95, a);
    ext.compute(inter, 1, 2, N, 29.95, b);
    expect(Array.from(b)).toEqual(Array.from(a));
  });
});

describe('medianInPlace', () => {
  it('takes the median of odd and even ranges', () => {
    expect(medianInPlace(Float64Array.from([5, 1, 4, 2, 3]), 0, 5)).toBe(3);
    expect(medianInPlace(Float64Array.from([4, 1, 3, 2]), 0, 4)).toBe(2.5);
  });
});
