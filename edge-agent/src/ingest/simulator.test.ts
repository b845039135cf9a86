import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { SampleBlock } from '../domain/channel.js';
import { VirtualClock } from './clock.js';
import { type SimTruthEvent, type SimulatorConfigInput, SimulatorConfigSchema, SimulatorSource } from './simulator.js';

type Recorded = Map<string, { t: number[]; v: number[] }>;

const QUIET = { spikes: null, dropouts: null, stuck: null, nans: null, drift: null } as const;

async function run(config: SimulatorConfigInput, ms: number, truth?: SimTruthEvent[]) {
  const clock = new VirtualClock(0);
  const src = new SimulatorSource({ startTimeMs: 0, ...config }, { clock, onTruth: (e) => truth?.push(e) });
  const blocks: Array<{ channel: string; t0Ms: number; values: Float64Array }> = [];
  await src.start((b: SampleBlock) =>
    blocks.push({ channel: b.channel, t0Ms: b.t0Ms, values: b.values.slice(0, b.length) }),
  );
  clock.advance(ms);
  await src.stop();
  return { blocks, src };
}

function record(blocks: Array<{ channel: string; t0Ms: number; values: Float64Array }>, rates: Map<string, number>) {
  const out: Recorded = new Map();
  for (const b of blocks) {
    const r = out.get(b.channel) ?? { t: [], v: [] };
    b.values.forEach((v, i) => {
      r.t.push(b.t0Ms + (i * 1000) / rates.get(b.channel)!);
      r.v.push(v);
    });
    out.set(b.channel, r);
  }
  return out;
}

function digest(blocks: Array<{ channel: string; t0Ms: number; values: Float64Array }>, beforeMs = Infinity) {
  const h = createHash('sha256');
  for (const b of blocks) {
    if (b.t0Ms >= beforeMs) continue;
    h.update(`${b.channel}@${b.t0Ms}`);
    h.update(new Uint8Array(b.values.buffer, b.values.byteOffset, b.values.byteLength));
  }
  return h.digest('hex');
}

function kurtosis(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m += x[i]!;
  m /= x.length;
  let m2 = 0;
  let m4 = 0;
  for (let i = 0; i < x.length; i++) {
    const d = x[i]! - m;
    m2 += d * d;
    m4 += d * d * d * d;
  }
  m2 /= x.length;
  return m4 / x.length / (m2 * m2);
}

/** Power of the squared, high-passed signal at `f` (Goertzel), i.e. envelope spectrum energy. */
function envelopePower(x: number[], fs: number, f: number): number {
  const env = new Float64Array(x.length - 1);
  let mean = 0;
  for (let i = 1; i < x.length; i++) {
    const d = x[i]! - x[i - 1]!;
    env[i - 1] = d * d;
    mean += d * d;
  }
  mean /= env.length;
  const w = (2 * Math.PI * f) / fs;
  let s1 = 0;
  let s2 = 0;
  for (const e of env) {
    const s = e - mean + 2 * Math.cos(w) * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  return (s1 * s1 + s2 * s2 - 2 * Math.cos(w) * s1 * s2) / env.length ** 2;
}

describe('SimulatorSource', () => {
  it('produces identical bytes for the same seed and different bytes for another seed', async () => {
    const a = await run({ seed: 7 }, 3000);
    const b = await run({ seed: 7 }, 3000);
    const c = await run({ seed: 8 }, 3000);
    expect(a.blocks.length).toBeGreaterThan(0);
    expect(digest(a.blocks)).toBe(digest(b.blocks));
    expect(digest(a.blocks)).not.toBe(digest(c.blocks));
  });

  it('produces the same samples whatever the tick period of the clock', async () => {
    const a = await run({ seed: 3, tickMs: 100 }, 5000);
    const b = await run({ seed: 3, tickMs: 370 }, 5000);
    expect(digest(a.blocks, 4800)).toBe(digest(b.blocks, 4800));
  });

  it('emits one block per channel per frame with the elapsed samples and contiguous timestamps', async () => {
    const { blocks, src } = await run({ assets: [{ name: 'm1', ...QUIET }] }, 1000);
    const vib = blocks.filter((b) => b.channel === 'm1.vib_h');
    expect(vib).toHaveLength(10);
    expect(vib.every((b) => b.values.length === 2560)).toBe(true);
    expect(vib.map((b) => b.t0Ms)).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
    expect(blocks.filter((b) => b.channel === 'm1.current')).toHaveLength(10);
    expect(blocks.filter((b) => b.channel === 'm1.temp_de').map((b) => b.t0Ms)).toEqual([0]);
    expect(src.channels.map((c) => `${c.name}:${c.unit}:${c.sampleRateHz}:${c.kind}`)).toEqual([
      'm1.vib_h:g:25600:vibration',
      'm1.vib_v:g:25600:vibration',
      'm1.temp_de:degC:1:process',
      'm1.temp_nde:degC:1:process',
      'm1.current:A:10:process',
    ]);
  });

  it('injects electrical spikes as isolated single samples far outside the normal range', async () => {
    const spikes = { ratePerHour: 2000, channels: ['vib_h', 'current'] as ('vib_h' | 'current')[] };
    const truth: SimTruthEvent[] = [];
    const base = { seed: 11, assets: [{ name: 'm', ...QUIET, bearingFault: null, currentRateHz: 100 }] };
    const clean = await run(base, 10_000);
    const glitched = await run({ ...base, assets: [{ ...base.assets[0]!, spikes }] }, 10_000, truth);
    const rates = new Map(glitched.src.channels.map((c) => [c.name, c.sampleRateHz]));
    const a = record(clean.blocks, rates);
    const b = record(glitched.blocks, rates);
    let changed = 0;
    for (const ch of ['m.vib_h', 'm.current']) {
      const va = a.get(ch)!.v;
      const vb = b.get(ch)!.v;
      const normalMax = va.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      for (let i = 0; i < vb.length; i++) {
        if (va[i] === vb[i]) continue;
        changed++;
        expect(Math.abs(vb[i]!)).toBeGreaterThan(5 * normalMax);
        expect(vb[i - 1] ?? va[i - 1]).toBe(va[i - 1]);
        expect(vb[i + 1] ?? va[i + 1]).toBe(va[i + 1]);
      }
    }
    expect(changed).toBeGreaterThan(3);
    expect(changed).toBe(glitched.src.stats().spikes);
    expect(truth.filter((e) => e.kind === 'spike')).toHaveLength(changed);
    expect(digest(clean.blocks.filter((x) => x.channel === 'm.vib_v'))).toBe(
      digest(glitched.blocks.filter((x) => x.channel === 'm.vib_v')),
    );
  });

  it('drifts only the configured channel while its siblings stay byte-identical', async () => {
    const asset = { name: 'm', ...QUIET, temperatureRateHz: 20 };
    const base = { seed: 5, timeCompression: 3600, assets: [asset] };
    const plain = await run(base, 4000);
    const drifting = await run(
      { ...base, assets: [{ ...asset, drift: { channel: 'temp_nde', startH: 1, ratePerHour: 2 } }] },
      4000,
    );
    for (const ch of ['m.vib_h', 'm.vib_v', 'm.temp_de', 'm.current']) {
      const only = (bs: typeof plain.blocks) => bs.filter((x) => x.channel === ch);
      expect(digest(only(drifting.blocks)), ch).toBe(digest(only(plain.blocks)));
    }
    const rates = new Map(plain.src.channels.map((c) => [c.name, c.sampleRateHz]));
    const p = record(plain.blocks, rates).get('m.temp_nde')!;
    const d = record(drifting.blocks, rates).get('m.temp_nde')!;
    const offsetAt = (tMs: number) => d.v[p.t.indexOf(tMs)]! - p.v[p.t.indexOf(tMs)]!;
    expect(offsetAt(500)).toBe(0);
    // 3.5 degradation hours, 2.5 of them drifting at 2 degC/h (frame-resolution time)
    expect(offsetAt(3500)).toBeCloseTo(5.1, 0);
    expect(offsetAt(3900)).toBeGreaterThan(offsetAt(2000));
  });

  it('develops a bearing fault that raises kurtosis and envelope energy at the defect frequency', async () => {
    const fault = { onsetH: 1, progressionH: 3 };
    const { blocks } = await run(
      { seed: 2, timeCompression: 3600, assets: [{ name: 'm', ...QUIET, bearingFault: fault }] },
      6000,
    );
    const vib = blocks.filter((b) => b.channel === 'm.vib_h');
    const kurt = (from: number, to: number) => {
      const ks = vib.filter((b) => b.t0Ms >= from && b.t0Ms < to).map((b) => kurtosis(b.values));
      return ks.reduce((s, k) => s + k, 0) / ks.length;
    };
    const samples = (from: number, to: number) =>
      vib.filter((b) => b.t0Ms >= from && b.t0Ms < to).flatMap((b) => Array.from(b.values));
    expect(kurt(0, 900)).toBeLessThan(3.5);
    expect(kurt(2500, 3500)).toBeGreaterThan(kurt(0, 900));
    expect(kurt(5000, 6000)).toBeGreaterThan(6);
    const bpfo = 29.95 * 3.5848;
    const late = samples(5000, 6000);
    const early = samples(0, 1000);
    expect(envelopePower(late, 25_600, bpfo)).toBeGreaterThan(20 * envelopePower(late, 25_600, bpfo * 1.37));
    expect(envelopePower(late, 25_600, bpfo)).toBeGreaterThan(100 * envelopePower(early, 25_600, bpfo));
  });

  it('loses blocks to dropouts, repeats values when stuck and emits NaN samples', async () => {
    const truth: SimTruthEvent[] = [];
    const asset = {
      name: 'm',
      ...QUIET,
      currentRateHz: 100,
      dropouts: { ratePerHour: 3000, meanDurationS: 0.5, channels: ['current' as const] },
      stuck: { ratePerHour: 3000, meanDurationS: 0.5, channels: ['temp_de' as const, 'current' as const] },
      nans: { ratePerHour: 30_000, channels: ['current' as const] },
    };
    const { blocks, src } = await run({ seed: 9, assets: [asset] }, 20_000, truth);
    const current = blocks.filter((b) => b.channel === 'm.current');
    expect(current.length).toBeLessThan(200);
    expect(current.length + src.stats().droppedBlocks - blocks.filter((b) => b.channel === 'm.vib_h').length).toBe(0);
    const gaps = current
      .slice(1)
      .map((b, i) => b.t0Ms - current[i]!.t0Ms)
      .filter((d) => d > 100);
    expect(gaps.length).toBeGreaterThan(0);
    expect(gaps.length).toBeLessThanOrEqual(truth.filter((e) => e.kind === 'dropout').length);
    const missingInside = gaps.reduce((n, d) => n + d / 100 - 1, 0);
    expect(missingInside).toBeLessThanOrEqual(src.stats().droppedBlocks);
    const stuck = truth.find((e) => e.kind === 'stuck' && e.channel === 'm.current');
    expect(stuck?.kind).toBe('stuck');
    if (stuck?.kind === 'stuck') {
      const during = current.filter((b) => b.t0Ms >= stuck.fromMs && b.t0Ms < stuck.fromMs + stuck.durationMs);
      const vals = during.flatMap((b) => Array.from(b.values)).filter((v) => !Number.isNaN(v));
      expect(new Set(vals)).toEqual(new Set([stuck.value]));
    }
    const nans = current.flatMap((b) => Array.from(b.values)).filter(Number.isNaN).length;
    expect(nans).toBeGreaterThan(0);
    expect(nans).toBeLessThanOrEqual(src.stats().nans);
  });

  it('applies sensible defaults to an empty scenario', () => {
    const cfg = SimulatorConfigSchema.parse({});
    expect(cfg.assets[0]?.name).toBe('pump1');
    expect(cfg.assets[0]?.vibrationRateHz).toBe(25_600);
    expect(cfg.assets[0]?.bearingFault?.defectOrder).toBeCloseTo(3.5848);
    expect(() => SimulatorConfigSchema.parse({ assets: [{ name: 'x', drift: { channel: 'nope' } }] })).toThrow();
  });
});
