import { describe, expect, it } from 'vitest';
import { HampelBlock } from './hampel-block.js';
import { gaussian, uniform } from './random.js';

/** The definition itself: sort the window's values for every centre. */
function naiveSpike(x: Float64Array, w: Uint8Array, j: number, h: number, k: number, minSigma: number): number {
  if (w[j] === 0) return 0;
  const xs: number[] = [];
  for (let p = j - h; p <= j + h; p++) if (p >= 0 && p < x.length && w[p] === 1) xs.push(x[p]!);
  if (xs.length <= h) return 0;
  const med = median(xs);
  const mad = median(xs.map((v) => Math.abs(v - med)));
  return Math.abs(x[j]! - med) > k * Math.max(1.4826 * mad, minSigma) ? 1 : 0;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >>> 1;
  return s.length % 2 === 1 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

/**
 * A seeded signal with what the filter must get right: noise, tones, steps, spikes (single and in
 * short bursts), runs of identical quantized values (ties), and invalid points (w = 0).
 */
function signal(seed: number, n: number): { x: Float64Array; w: Uint8Array } {
  const g = gaussian(seed);
  const u = uniform(seed + 1000);
  const x = new Float64Array(n);
  const w = new Uint8Array(n).fill(1);
  let level = 0;
  let sigma = 1;
  let quantum = 0;
  for (let i = 0; i < n; i++) {
    if (u() < 0.01) level += (u() - 0.5) * 40;
    if (u() < 0.005) sigma = u() < 0.2 ? 0 : 0.01 + u() * 3;
    if (u() < 0.005) quantum = u() < 0.5 ? 0 : 0.5;
    let v = level + sigma * g() + Math.sin(i / 3);
    if (quantum > 0) v = Math.round(v / quantum) * quantum;
    if (u() < 0.02) v += (u() < 0.5 ? -1 : 1) * (2 + u() * 30);
    x[i] = v;
    if (u() < 0.01) {
      w[i] = 0;
      x[i] = u() < 0.5 ? Number.NaN : 1e9;
    }
  }
  return { x, w };
}

describe('HampelBlock', () => {
  it('makes exactly the decisions of the sort-every-window reference on random signals', () => {
    const rnd = uniform(99);
    let checked = 0;
    let spikes = 0;
    for (const [h, k, minSigma] of [
      [8, 6, 0],
      [8, 3, 0],
      [3, 3.5, 0],
      [1, 2, 0],
      [5, 4, 0.2],
      [16, 6, 0],
      [64, 5, 0],
    ] as const) {
      for (let seed = 1; seed <= 4; seed++) {
        const n = 3000;
        const { x, w } = signal(seed * 31 + h, n);
        // As the cleaner lays the stream out: 2h holes (an empty window), the data, h holes.
        const xb = new Float64Array(n + 3 * h);
        const wb = new Uint8Array(n + 3 * h);
        xb.set(x, 2 * h);
        wb.set(w, 2 * h);
        const got = new Uint8Array(xb.length);
        const hb = new HampelBlock(h, k, minSigma);
        // Feed the centres in random runs, as blocks of random size arrive.
        const end = n + 2 * h;
        for (let from: number = h; from < end; ) {
          const to = Math.min(end, from + 1 + Math.floor(rnd() * 300));
          hb.detect(xb, wb, from, to, got);
          from = to;
        }
        for (let j = 2 * h; j < end; j++) {
          expect(got[j], `h=${h} k=${k} seed=${seed} position ${j - 2 * h}`).toBe(
            naiveSpike(xb, wb, j, h, k, minSigma),
          );
          checked++;
          spikes += got[j]!;
        }
      }
    }
    expect(checked).toBe(7 * 4 * 3000);
    // The signals must exercise both outcomes.
    expect(spikes).toBeGreaterThan(1000);
  });

  it('rejects a half-width below 1', () => {
    expect(() => new HampelBlock(0, 3, 0)).toThrow(RangeError);
  });
});
