import { describe, expect, it } from 'vitest';
import { ks, PSI_FLOOR, psi, referenceSlots } from './drift.js';

describe('psi', () => {
  it('is 0 when the observed distribution equals the reference', () => {
    const ref = referenceSlots([0.25, 0.25, 0.5]);
    expect(psi(ref, [0, 25, 25, 50, 0])).toBeCloseTo(0, 12);
  });

  it('matches the hand-computed value for a known shift', () => {
    // Reference 50/50 over two bins, observed 80/20: (0.8-0.5)ln(0.8/0.5) + (0.2-0.5)ln(0.2/0.5).
    const expected = 0.3 * Math.log(0.8 / 0.5) + -0.3 * Math.log(0.2 / 0.5);
    expect(psi(referenceSlots([0.5, 0.5]), [0, 80, 20, 0])).toBeCloseTo(expected, 3);
  });

  it('floors empty slots, so mass beyond the reference edges counts as a large finite shift', () => {
    const v = psi(referenceSlots([0.5, 0.5]), [0, 0, 0, 100]);
    const expected = 2 * (PSI_FLOOR - 0.5) * Math.log(PSI_FLOOR / 0.5) + (1 - PSI_FLOOR) * Math.log(1 / PSI_FLOOR);
    expect(v).toBeCloseTo(expected, 6);
    expect(Number.isFinite(v)).toBe(true);
  });
});

describe('ks', () => {
  it('is the largest CDF gap over bin boundaries', () => {
    expect(ks(referenceSlots([0.5, 0.5]), [0, 80, 20, 0])).toBeCloseTo(0.3, 12);
    expect(ks(referenceSlots([0.25, 0.25, 0.25, 0.25]), [0, 0, 0, 0, 0, 10])).toBeCloseTo(1, 12);
    expect(ks(referenceSlots([0.2, 0.3, 0.5]), [0, 2, 3, 5, 0])).toBeCloseTo(0, 12);
  });
});
