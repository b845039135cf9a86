import { describe, expect, it } from 'vitest';
import { Fft, RealFft } from './fft.js';
import { uniform } from './random.js';

describe('RealFft', () => {
  it('matches a direct DFT for every power-of-two size up to 512', () => {
    const rnd = uniform(5);
    for (let n = 2; n <= 512; n *= 2) {
      const x = Float64Array.from({ length: n }, () => rnd() - 0.5);
      const fft = new RealFft(n);
      fft.transform(x);
      for (let k = 0; k <= n / 2; k++) {
        let dr = 0;
        let di = 0;
        for (let t = 0; t < n; t++) {
          dr += x[t]! * Math.cos((-2 * Math.PI * k * t) / n);
          di += x[t]! * Math.sin((-2 * Math.PI * k * t) / n);
        }
        expect(fft.re[k], `n=${n} k=${k}`).toBeCloseTo(dr, 10);
        expect(fft.im[k], `n=${n} k=${k}`).toBeCloseTo(di, 10);
      }
    }
  });

  it('agrees with the complex transform of the same real signal at 2048 points', () => {
    const rnd = uniform(6);
    const n = 2048;
    const x = Float64Array.from({ length: n }, () => rnd() * 4 - 2);
    const re = Float64Array.from(x);
    const im = new Float64Array(n);
    new Fft(n).transform(re, im);
    const fft = new RealFft(n);
    fft.transform(x);
    for (let k = 0; k <= n / 2; k++) {
      expect(Math.abs(fft.re[k]! - re[k]!)).toBeLessThan(1e-11);
      expect(Math.abs(fft.im[k]! - im[k]!)).toBeLessThan(1e-11);
    }
  });

  it('rejects a size that is not a power of two', () => {
    expect(() => new RealFft(96)).toThrow(RangeError);
  });
});
