import { describe, expect, it } from 'vitest';
import { Fft } from './fft.js';

describe('Fft', () => {
  it('puts a pure tone into its own bin', () => {
    const n = 256;
    const fft = new Fft(n);
    const signal = new Float64Array(n);
    for (let i = 0; i < n; i++) signal[i] = Math.sin((2 * Math.PI * 16 * i) / n);
    const out = new Float64Array(n / 2 + 1);
    fft.powerSpectrum(signal, new Float64Array(n), new Float64Array(n), out);
    // A unit sine of amplitude 1 puts (n/2)^2/n^2 = 0.25 into bin 16.
    expect(out[16]).toBeCloseTo(0.25, 10);
    expect(out[15]).toBeLessThan(1e-20);
    expect(out[17]).toBeLessThan(1e-20);
  });

  it('matches a direct DFT on random input', () => {
    const n = 64;
    const fft = new Fft(n);
    const re = new Float64Array(n);
    const im = new Float64Array(n);
    const x: number[] = [];
    let seed = 7;
    for (let i = 0; i < n; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      x.push(seed / 2 ** 31 - 0.5);
      re[i] = x[i]!;
    }
    fft.transform(re, im);
    for (const k of [0, 1, 5, 31, 63]) {
      let dr = 0;
      let di = 0;
      for (let t = 0; t < n; t++) {
        dr += x[t]! * Math.cos((-2 * Math.PI * k * t) / n);
        di += x[t]! * Math.sin((-2 * Math.PI * k * t) / n);
      }
      expect(re[k]).toBeCloseTo(dr, 9);
      expect(im[k]).toBeCloseTo(di, 9);
    }
  });

  it('rejects a size that is not a power of two', () => {
    expect(() => new Fft(100)).toThrow(RangeError);
  });
});
