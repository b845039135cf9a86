import { describe, expect, it } from 'vitest';
import { defectFrequencies, rpmToHz, SKF_6205 } from './geometry.js';

describe('defectFrequencies', () => {
  it('reproduces the CWRU drive-end frequencies of the 6205-2RS at 1797 rpm', () => {
    const f = defectFrequencies(SKF_6205, rpmToHz(1797));
    expect(f.bpfi).toBeCloseTo(162.2, 1);
    expect(f.bpfo).toBeCloseTo(107.4, 1);
    expect(f.bsf).toBeCloseTo(141.2, 1);
    expect(f.ftf).toBeCloseTo(11.9, 1);
  });

  it('matches the stated multiples of shaft speed to four digits', () => {
    const f = defectFrequencies(SKF_6205, 1);
    expect(f.bpfi).toBeCloseTo(5.4152, 3);
    expect(f.bpfo).toBeCloseTo(3.5848, 3);
    expect(f.ftf).toBeCloseTo(0.39828, 3);
    expect(f.bsf).toBeCloseTo(4.7135, 3);
  });
});
