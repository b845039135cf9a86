import { describe, expect, it } from 'vitest';
import { BandEnergies, nextPowerOfTwo } from './band-energy.js';
import { gaussian } from './random.js';

const FS = 25_600;

function load(be: BandEnergies, signal: (i: number) => number): void {
  for (let i = 0; i < be.windowSize; i++) be.input[i] = signal(i);
}

describe('BandEnergies', () => {
  it('puts all the energy of a tone into the band that holds its frequency', () => {
    const bands = [
      { lowHz: 0, highHz: 1000 },
      { lowHz: 1000, highHz: 2000 },
      { lowHz: 2000, highHz: FS / 2 + 1 },
    ];
    const be = new BandEnergies(2048, FS, bands);
    // 1500 Hz sits exactly on bin 120 of a 2048-point FFT at 25.6 kHz: no leakage.
    load(be, (i) => 2 * Math.sin((2 * Math.PI * 1500 * i) / FS));
    const out = new Float64Array(3);
    be.compute(2048, out, 0);
    expect(out[1]).toBeCloseTo(2, 10); // mean square of amplitude 2 = 4 / 2
    expect(out[0]).toBeLessThan(1e-20);
    expect(out[2]).toBeLessThan(1e-20);
  });

  it('keeps Parseval: bands tiling 0 to Nyquist sum to the mean square of a zero-padded window', () => {
    const bands = [
      { lowHz: 0, highHz: 3000 },
      { lowHz: 3000, highHz: 7000 },
      { lowHz: 7000, highHz: FS / 2 + 1 },
    ];
    const be = new BandEnergies(2560, FS, bands);
    expect(be.fftSize).toBe(4096);
    const g = gaussian(3);
    let sumSq = 0;
    load(be, () => {
      const x = g();
      sumSq += x * x;
      return x;
    });
    const out = new Float64Array(3);
    be.compute(2560, out, 0);
    expect(out[0]! + out[1]! + out[2]!).toBeCloseTo(sumSq / 2560, 10);
    // White noise spreads roughly in proportion to bandwidth.
    expect(out[1]! / (sumSq / 2560)).toBeGreaterThan(0.25);
    expect(out[1]! / (sumSq / 2560)).toBeLessThan(0.38);
  });

  it('rounds window sizes up to a power of two for the FFT', () => {
    expect(nextPowerOfTwo(2048)).toBe(2048);
    expect(nextPowerOfTwo(2049)).toBe(4096);
    expect(nextPowerOfTwo(3)).toBe(4);
  });
});
