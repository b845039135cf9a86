import { describe, expect, it } from 'vitest';
import type { ChannelSpec } from '../domain/channel.js';
import { Quality } from '../domain/channel.js';
import { MillwrightError } from '../domain/errors.js';
import { gaussian } from '../dsp/random.js';
import { AssetCleaning } from './asset-cleaning.js';
import type { CleanedBlock } from './channel-cleaner.js';
import type { ChannelCleaningConfig } from './config.js';
import { AssetDriftConfigSchema, ChannelCleaningConfigSchema } from './config.js';

const NAMES = ['p.t_de', 'p.t_nde', 'p.t_case', 'p.i_motor'];
const OFFSET = [20, 18, 15, 5];
const GAIN = [0.5, 0.4, 0.2, 0.3];
const RATE = 10;
const SPECS: ChannelSpec[] = NAMES.map((name) => ({
  name,
  unit: 'degC',
  sampleRateHz: RATE,
  kind: 'process',
  asset: 'p',
}));

function makeAsset(): AssetCleaning {
  const configs: Record<string, ChannelCleaningConfig> = {};
  for (const n of NAMES) {
    configs[n] = ChannelCleaningConfigSchema.parse({
      drift: { siblings: NAMES.filter((s) => s !== n), tolerance: 0.15 },
    }) as ChannelCleaningConfig;
  }
  return new AssetCleaning({
    channels: SPECS,
    configs,
    drift: AssetDriftConfigSchema.parse({ intervalMs: 1000, learnIntervals: 60 }),
  });
}

/** One-second blocks per channel; counts DRIFTING points per channel. */
function simulate(
  a: AssetCleaning,
  seconds: number,
  load: (s: number) => number,
  bias: (i: number, s: number) => number,
) {
  const g = gaussian(99);
  const drifting = NAMES.map(() => 0);
  const values = new Float64Array(RATE);
  const sink = (b: CleanedBlock) => {
    const i = NAMES.indexOf(b.channel);
    for (let k = 0; k < b.length; k++) if ((b.flags[k]! & Quality.DRIFTING) !== 0) drifting[i]!++;
  };
  for (let s = 0; s < seconds; s++) {
    for (let i = 0; i < NAMES.length; i++) {
      for (let k = 0; k < RATE; k++) values[k] = OFFSET[i]! + GAIN[i]! * load(s) + 0.15 * g() + bias(i, s);
      a.process({ channel: NAMES[i]!, t0Ms: s * 1000, sampleRateHz: RATE, values, length: RATE }, sink);
    }
  }
  return drifting;
}

describe('AssetCleaning', () => {
  it('reports calibration drift for the sensor that drifts, from raw sample blocks', () => {
    const a = makeAsset();
    const load = (s: number) => (s < 60 ? 60 + 20 * Math.sin((2 * Math.PI * s) / 17) : 70);
    const drifting = simulate(a, 180, load, (i, s) => (i === 2 && s >= 60 ? 0.01 * (s - 60) : 0));
    const report = a.snapshot();
    expect(report.map((q) => q.calibrationDrift)).toEqual([false, false, true, false]);
    expect(report[2]!.driftScore).toBeGreaterThanOrEqual(1);
    expect(report[2]!.points).toBe(1800);
    expect(drifting[2]).toBeGreaterThan(0);
    expect([drifting[0], drifting[1], drifting[3]]).toEqual([0, 0, 0]);
  });

  it('does not report drift when the whole machine changes load', () => {
    const a = makeAsset();
    const load = (s: number) => (s < 60 ? 60 + 20 * Math.sin((2 * Math.PI * s) / 17) : 45);
    simulate(a, 180, load, () => 0);
    expect(a.snapshot().map((q) => q.calibrationDrift)).toEqual([false, false, false, false]);
  });

  it('refuses a channel of another asset', () => {
    const a = makeAsset();
    const block = { channel: 'q.other', t0Ms: 0, sampleRateHz: 1, values: new Float64Array(1), length: 1 };
    expect(() => a.process(block, () => {})).toThrow(MillwrightError);
  });

  describe('hot reconfiguration', () => {
    const spec: ChannelSpec = { name: 'p.i', unit: 'A', sampleRateHz: RATE, kind: 'process', asset: 'p' };
    const cfg = (c: unknown) => ChannelCleaningConfigSchema.parse(c) as ChannelCleaningConfig;
    const drift = AssetDriftConfigSchema.parse({});

    /** Noise with a 100 A spike every 25th sample; collects every point emitted with its time. */
    function stream() {
      const g = gaussian(5);
      const out: { t: number; spike: boolean }[] = [];
      const sink = (b: CleanedBlock) => {
        for (let k = 0; k < b.length; k++)
          out.push({ t: b.t0Ms + (k * 1000) / b.sampleRateHz, spike: (b.flags[k]! & Quality.SPIKE) !== 0 });
      };
      const values = new Float64Array(RATE);
      const feed = (a: AssetCleaning, fromS: number, toS: number) => {
        for (let s = fromS; s < toS; s++) {
          for (let k = 0; k < RATE; k++) values[k] = 10 + 0.1 * g() + ((s * RATE + k) % 25 === 12 ? 100 : 0);
          a.process({ channel: 'p.i', t0Ms: s * 1000, sampleRateHz: RATE, values, length: RATE }, sink);
        }
      };
      return { out, sink, feed };
    }

    it('applies a new spike limit between two blocks without losing or doubling a point', () => {
      const a = new AssetCleaning({ channels: [spec], configs: { 'p.i': cfg({}) }, drift });
      const { out, sink, feed } = stream();
      feed(a, 0, 20);
      const swap = a.prepare({ 'p.i': cfg({ hampel: { halfWidth: 4, k: 1e9 } }) }, drift);
      feed(a, 20, 25); // checked, not yet applied: the old limit still flags
      swap();
      feed(a, 25, 50);
      a.cleaners[0]!.flush(sink);
      expect(out.map((p) => p.t)).toEqual(Array.from({ length: 500 }, (_, i) => i * 100));
      const spikesAt = out.filter((p) => p.spike).map((p) => p.t);
      expect(spikesAt.length).toBe(10);
      expect(Math.max(...spikesAt)).toBeLessThan(25_000);
      const q = a.snapshot()[0]!;
      expect(q.points).toBe(500);
      expect(q.spikes).toBe(10);
    });

    it('swaps without running the sink; the held points leave ahead of the next block, a failing sink loses only them', () => {
      const other: ChannelSpec = { ...spec, name: 'p.j' };
      const a = new AssetCleaning({ channels: [spec, other], configs: { 'p.i': cfg({}), 'p.j': cfg({}) }, drift });
      const out: { channel: string; t: number }[] = [];
      let failNext = false;
      const sink = (b: CleanedBlock) => {
        if (failNext) {
          failNext = false;
          throw new Error('downstream failed');
        }
        for (let k = 0; k < b.length; k++) out.push({ channel: b.channel, t: b.t0Ms + (k * 1000) / b.sampleRateHz });
      };
      const values = Float64Array.from({ length: RATE }, (_, k) => 10 + (k % 3) * 0.1);
      const block = (channel: string, s: number) => ({
        channel,
        t0Ms: s * 1000,
        sampleRateHz: RATE,
        values,
        length: RATE,
      });
      for (let s = 0; s < 20; s++) for (const c of ['p.i', 'p.j']) a.process(block(c, s), sink);
      const next = { 'p.i': cfg({ hampel: { halfWidth: 4 } }), 'p.j': cfg({ hampel: { halfWidth: 4 } }) };
      const before = out.length;
      a.prepare(next, drift)();
      expect(out).toHaveLength(before);
      // p.i's held points meet a downstream failure: that call throws (the data plane counts it), the block is still cleaned.
      failNext = true;
      expect(() => a.process(block('p.i', 20), sink)).toThrow('downstream failed');
      a.process(block('p.j', 20), sink);
      for (let s = 21; s < 30; s++) for (const c of ['p.i', 'p.j']) a.process(block(c, s), sink);
      const times = (c: string) => out.filter((p) => p.channel === c).map((p) => p.t);
      const all = (upTo: number) => Array.from({ length: upTo / 100 }, (_, i) => i * 100);
      // Old half-width 8 held 8 points; the new one (4) holds the last 4 of the stream.
      expect(times('p.j')).toEqual(all(29_600));
      expect(times('p.i')).toEqual(all(29_600).filter((t) => t < 19_200 || t >= 20_000));
      const [i, j] = a.snapshot();
      expect([i!.points, i!.gaps, j!.points, j!.gaps]).toEqual([300, 0, 300, 0]);
      // Both channels run on the new parameters, and are recorded so: the same config again keeps them.
      const cleaners = [...a.cleaners];
      expect(cleaners.map((c) => c.delaySamples)).toEqual([4, 4]);
      a.prepare(next, drift)();
      expect(a.cleaners[0]).toBe(cleaners[0]);
      expect(a.cleaners[1]).toBe(cleaners[1]);
    });

    it('keeps a cleaner whose config did not change', () => {
      const a = new AssetCleaning({ channels: [spec], configs: { 'p.i': cfg({}) }, drift });
      const before = a.cleaners[0];
      a.prepare({ 'p.i': cfg({}) }, drift)();
      expect(a.cleaners[0]).toBe(before);
    });

    it('refuses drift parameters naming an unknown sibling and changes nothing', () => {
      const a = makeAsset();
      const before = [...a.cleaners];
      const monitor = a.drift;
      const bad = Object.fromEntries(NAMES.map((n) => [n, cfg({ drift: { siblings: ['p.nope'] } })]));
      expect(() => a.prepare(bad, drift)).toThrow(MillwrightError);
      expect(a.cleaners).toEqual(before);
      expect(a.drift).toBe(monitor);
    });

    it('restarts drift learning when drift parameters change', () => {
      const a = makeAsset();
      const load = (s: number) => 60 + 20 * Math.sin((2 * Math.PI * s) / 17);
      simulate(a, 70, load, () => 0);
      expect(a.drift.state(0).status).not.toBe('learning');
      const configs = Object.fromEntries(
        NAMES.map((n) => [n, cfg({ drift: { siblings: NAMES.filter((x) => x !== n), tolerance: 0.15 } })]),
      );
      const cleaners = [...a.cleaners];
      a.prepare(configs, AssetDriftConfigSchema.parse({ intervalMs: 1000, learnIntervals: 30 }))();
      expect(a.drift.state(0).status).toBe('learning');
      expect(a.cleaners).toEqual(cleaners);
    });
  });
});
