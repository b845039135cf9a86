import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { ChannelSpec, SampleBlock } from '../domain/channel.js';
import type { ModelManifest } from '../domain/model.js';
import type { PredictionEvent } from '../domain/prediction.js';
import type { CapturedWindow } from './capturer.js';
import { type CaptureConfig, CaptureConfigSchema, type CapturePolicy } from './policy.js';
import { RawRing } from './raw-ring.js';
import { CaptureStage } from './stage.js';

const CHANNEL: ChannelSpec = { name: 'p.i', unit: 'A', sampleRateHz: 10, kind: 'process', asset: 'p' };
const MANIFEST: ModelManifest = {
  model: 'm',
  version: '1',
  runtime: 'linear',
  inputs: [{ name: 'x', unit: '' }],
  output: { meaning: 'p', alertThreshold: 0.9, uncertainLow: 0, uncertainHigh: 0 },
  selfTest: [],
  trainingMetrics: {},
  lineage: {},
  reference: [],
  sequence: 1,
};

function prediction(i: number): PredictionEvent {
  return {
    predictionId: `a:b:${i}`,
    asset: 'p',
    model: 'm',
    modelVersion: '1',
    score: 0.1,
    decision: 'normal',
    reasons: [],
    latencyUs: 5,
    windowStartMs: i * 1000 - 1000,
    windowEndMs: i * 1000,
    inputBadFraction: 0,
  };
}

/** One block per second; sample k of second s has the value 10 s + k. */
function feed(push: (b: SampleBlock) => void, fromS: number, toS: number): void {
  for (let s = fromS; s < toS; s++) {
    const values = Float64Array.from({ length: 10 }, (_, k) => s * 10 + k);
    push({ channel: 'p.i', t0Ms: s * 1000, sampleRateHz: 10, values, length: 10 });
  }
}

function stage(config: Partial<CaptureConfig>) {
  const out: CapturedWindow[] = [];
  let i = 0;
  const s = new CaptureStage({
    config: CaptureConfigSchema.parse(config),
    channels: [CHANNEL],
    now: () => 0,
    random: () => 0.5,
    emitSample: (w) => out.push(w),
    emitHistograms: () => {},
    metrics: new Registry(),
    log: pino({ level: 'silent' }),
  });
  const see = (n = 1) => {
    for (let k = 0; k < n; k++) s.onPrediction(prediction(++i), MANIFEST, [1]);
  };
  return { s, out, see };
}

describe('CaptureStage hot config', () => {
  it('captures per the new config once the swap runs, and the desired policy wins over it', () => {
    const { s, out, see } = stage({ enabled: false });
    see(3);
    expect(out).toHaveLength(0);
    const config = CaptureConfigSchema.parse({ enabled: true, randomRate: 1 });
    const swap = s.prepare(config, undefined);
    see(2);
    expect(out).toHaveLength(0);
    swap();
    see(2);
    expect(out.map((w) => w.reason)).toEqual(['random', 'random']);
    const off: CapturePolicy = { ...s.currentPolicy(), enabled: false };
    s.prepare(config, off)();
    see(2);
    expect(out).toHaveLength(2);
    s.prepare(config, undefined)();
    see(1);
    expect(out).toHaveLength(3);
  });

  it('keeps the hourly cap of its own config whatever the overlay or the desired policy asks', () => {
    const { s, out, see } = stage({ enabled: true, randomRate: 1, maxSamplesPerHour: 3 });
    const lifted = CaptureConfigSchema.parse({ enabled: true, randomRate: 1, maxSamplesPerHour: 100 });
    s.prepare(lifted, { ...s.currentPolicy(), maxSamplesPerHour: 100 })();
    expect(s.currentPolicy().maxSamplesPerHour).toBe(3);
    see(6);
    expect(out).toHaveLength(3);
  });

  it('keeps the newest raw samples when the raw span is resized', () => {
    const { s, out } = stage({ enabled: true, randomRate: 1, includeRaw: true, maxRawSeconds: 5 });
    feed(s.accept, 0, 10);
    s.prepare(
      CaptureConfigSchema.parse({ enabled: true, randomRate: 1, includeRaw: true, maxRawSeconds: 2 }),
      undefined,
    )();
    s.onPrediction({ ...prediction(10), windowStartMs: 7000, windowEndMs: 10_000 }, MANIFEST, [1]);
    expect(Array.from(out[0]!.raw[0]!.samples)).toEqual(Array.from({ length: 20 }, (_, k) => 80 + k));
  });
});

describe('RawRing.resized', () => {
  it('grows and shrinks keeping the most recent samples in order', () => {
    const ring = new RawRing([CHANNEL], 3);
    feed((b) => ring.push(b), 0, 5);
    const bigger = ring.resized(10);
    expect(Array.from(bigger.slice('p', 0, 5000)[0]!.samples)).toEqual(Array.from({ length: 30 }, (_, k) => 20 + k));
    feed((b) => bigger.push(b), 5, 7);
    expect(bigger.slice('p', 0, 7000)[0]!.samples.length).toBe(50);
    const smaller = bigger.resized(1);
    expect(Array.from(smaller.slice('p', 0, 7000)[0]!.samples)).toEqual(Array.from({ length: 10 }, (_, k) => 60 + k));
  });
});
