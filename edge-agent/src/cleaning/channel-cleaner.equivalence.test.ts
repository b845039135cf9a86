import { describe, expect, it } from 'vitest';
import type { ChannelSpec, SampleBlock } from '../domain/channel.js';
import { Quality } from '../domain/channel.js';
import { gaussian, uniform } from '../dsp/random.js';
import { ChannelCleaner } from './channel-cleaner.js';
import type { ChannelCleaningConfig } from './config.js';
import { ChannelCleaningConfigSchema } from './config.js';

const SPEC: ChannelSpec = { name: 'pump1.vib', unit: 'g', sampleRateHz: 1000, kind: 'vibration', asset: 'pump1' };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >>> 1;
  return s.length % 2 === 1 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

/**
 * Spike flags by the definition: per gap-free segment, sort the valid values of each centred
 * window (points outside the segment, NaN/Inf and out-of-range ones do not count).
 */
function referenceSpikes(values: number[], segment: number[], valid: boolean[], h: number, k: number): boolean[] {
  return values.map((x, j) => {
    if (!valid[j]) return false;
    const xs: number[] = [];
    for (let p = Math.max(0, j - h); p <= Math.min(values.length - 1, j + h); p++) {
      if (segment[p] === segment[j] && valid[p]) xs.push(values[p]!);
    }
    if (xs.length <= h) return false;
    const med = median(xs);
    const mad = median(xs.map((v) => Math.abs(v - med)));
    return Math.abs(x - med) > k * 1.4826 * mad;
  });
}

describe('ChannelCleaner spike decisions', () => {
  it('equal the sort-every-window reference across random blocks, gaps, steps, spikes and NaNs', () => {
    for (const [h, k] of [
      [8, 6],
      [3, 3.5],
      [12, 4],
    ] as const) {
      const rnd = uniform(h * 7 + 1);
      const g = gaussian(h * 7 + 2);
      const config = ChannelCleaningConfigSchema.parse({
        range: { min: -500, max: 500 },
        hampel: { halfWidth: h, k },
        stuck: null,
      }) as ChannelCleaningConfig;
      const cleaner = new ChannelCleaner(SPEC, config);
      const values: number[] = [];
      const segment: number[] = [];
      const blocks: SampleBlock[] = [];
      let t = 0;
      let seg = 0;
      let level = 0;
      for (let b = 0; b < 120; b++) {
        const n = 1 + Math.floor(rnd() * (rnd() < 0.3 ? 10 : 400));
        if (rnd() < 0.05) {
          t += 50 + Math.floor(rnd() * 100);
          seg++;
        }
        const v = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          if (rnd() < 0.01) level += (rnd() - 0.5) * 50;
          let x = level + g() + 0.5 * Math.sin(values.length / 2);
          if (rnd() < 0.03) x += (rnd() < 0.5 ? -1 : 1) * (3 + rnd() * 40);
          if (rnd() < 0.01) x = rnd() < 0.5 ? Number.NaN : 1000;
          v[i] = x;
          values.push(x);
          segment.push(seg);
        }
        blocks.push({ channel: SPEC.name, t0Ms: t, sampleRateHz: SPEC.sampleRateHz, values: v, length: n });
        t += n;
      }
      const got: number[] = [];
      const flags: number[] = [];
      const sink = (out: { values: Float64Array; flags: Uint8Array; length: number }) => {
        for (let i = 0; i < out.length; i++) {
          got.push(out.values[i]!);
          flags.push(out.flags[i]!);
        }
      };
      for (const b of blocks) cleaner.process(b, sink);
      cleaner.flush(sink);

      expect(got).toEqual(values);
      const valid = values.map((x) => Number.isFinite(x) && x >= -500 && x <= 500);
      const want = referenceSpikes(values, segment, valid, h, k);
      const spikes = flags.map((f) => (f & Quality.SPIKE) !== 0);
      const wrong = spikes.flatMap((s, i) => (s === want[i] ? [] : [i]));
      expect(wrong, `h=${h}: positions decided differently`).toEqual([]);
      expect(cleaner.snapshot().spikes).toBe(want.filter(Boolean).length);
      expect(want.filter(Boolean).length).toBeGreaterThan(100);
    }
  });
});
