import { describe, expect, it } from 'vitest';
import { HampelWindow } from './hampel-window.js';
import { uniform } from './random.js';

function naiveMedian(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >>> 1;
  return s.length % 2 === 1 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

/** A window over its own ring, filled with `xs` in slots 0.. */
function filled(xs: number[], capacity = xs.length, k = 3, minSigma = 0): HampelWindow {
  const ring = Float64Array.from(xs);
  const w = new HampelWindow(ring, capacity, k, minSigma);
  for (let i = 0; i < xs.length; i++) w.set(i, true);
  return w;
}

describe('HampelWindow', () => {
  it('gives the median and MAD of a known set', () => {
    const w = filled([1, 1, 2, 2, 4, 6, 9]);
    expect(w.median()).toBe(2);
    // |x - 2| = 1,1,0,0,2,4,7 -> median 1
    expect(w.mad(2)).toBe(1);
  });

  it('averages the middle pair for an even count', () => {
    const w = filled([10, 0, 4, 2]);
    expect(w.median()).toBe(3);
    // |x - 3| = 7,3,1,1 -> (1 + 3) / 2
    expect(w.mad(3)).toBe(2);
  });

  it('matches a sort-based median and MAD while values slide through a ring with holes', () => {
    const rnd = uniform(42);
    const ring = new Float64Array(9);
    const w = new HampelWindow(ring, 9, 3, 0);
    const held: (number | undefined)[] = [];
    for (let i = 0; i < 2000; i++) {
      const slot = i % 9;
      ring[slot] = Math.round(rnd() * 20);
      const enter = rnd() > 0.2;
      held[slot] = enter ? ring[slot] : undefined;
      w.set(slot, enter);
      const xs = held.filter((x): x is number => x !== undefined);
      expect(w.count).toBe(xs.length);
      if (xs.length === 0) continue;
      const med = naiveMedian(xs);
      expect(w.median()).toBe(med);
      expect(w.mad(med)).toBe(naiveMedian(xs.map((v) => Math.abs(v - med))));
    }
  });

  it('agrees with the exact MAD test whether or not the O(1) bounds decide it', () => {
    const rnd = uniform(7);
    for (let trial = 0; trial < 3000; trial++) {
      const xs = Array.from({ length: 17 }, () => Math.round(rnd() * 40) / 4);
      const w = filled(xs, 17, 2);
      const med = naiveMedian(xs);
      const sigma = 1.4826 * naiveMedian(xs.map((v) => Math.abs(v - med)));
      const slot = trial % 17;
      expect(w.isOutlier(slot)).toBe(Math.abs(xs[slot]! - med) > 2 * sigma);
    }
  });

  it('calls a value an outlier beyond k robust sigmas only', () => {
    // Both windows: median 10, MAD 1 -> sigma 1.4826; k = 3 -> limit 4.4478 from the median.
    const probe = filled([9, 10, 11, 9, 10, 11, 10, 14.5], 8, 3);
    expect(probe.isOutlier(7)).toBe(true);
    const near = filled([9, 10, 11, 9, 10, 11, 10, 14.4], 8, 3);
    expect(near.isOutlier(7)).toBe(false);
  });

  it('lets minSigma keep a flat window from calling every small step an outlier', () => {
    expect(filled([5, 5, 5, 5, 5.01], 5, 3, 0).isOutlier(4)).toBe(true);
    expect(filled([5, 5, 5, 5, 5.01], 5, 3, 0.01).isOutlier(4)).toBe(false);
  });

  it('drops a slot that stops holding a value and ignores one that never held one', () => {
    const ring = Float64Array.from([1, 2, 3]);
    const w = new HampelWindow(ring, 3, 3, 0);
    w.set(0, true);
    w.set(1, true);
    w.set(2, false);
    w.set(0, false);
    expect(w.count).toBe(1);
    expect(w.median()).toBe(2);
    expect(w.holds(0)).toBe(false);
    expect(w.holds(1)).toBe(true);
  });

  it('refuses to grow past its capacity', () => {
    const ring = new Float64Array(2);
    const w = new HampelWindow(ring, 1, 3, 0);
    w.set(0, true);
    expect(() => w.set(1, true)).toThrow(RangeError);
  });
});
