import { describe, expect, it } from 'vitest';
import { AssetDriftConfigSchema, ChannelCleaningConfigSchema } from '../cleaning/config.js';
import type { ChannelSpec } from '../domain/channel.js';
import { ModelLoadError } from '../domain/errors.js';
import type { PredictionEvent } from '../domain/prediction.js';
import { ChannelFeatureConfigSchema } from '../features/config.js';
import { loadLinear } from '../inference/linear.js';
import type { LoadedModel } from '../inference/runtime.js';
import { testManifest, utf8 } from '../inference/testkit.js';
import { EdgePipeline, resolveInputs } from './edge-pipeline.js';

const channels: ChannelSpec[] = [
  { name: 'pump-1.vib_h', unit: 'g', sampleRateHz: 25_600, kind: 'vibration', asset: 'pump-1' },
  { name: 'pump-1.temp', unit: 'degC', sampleRateHz: 10, kind: 'process', asset: 'pump-1' },
];

async function linearModel(
  inputs: { name: string; unit: string }[],
  weights: number[],
  version = '1.0.0',
): Promise<LoadedModel> {
  const manifest = testManifest('linear', inputs.length, {
    inputs,
    version,
    output: { meaning: 'risk', alertThreshold: 1, uncertainLow: 0.8, uncertainHigh: 1 },
  });
  return loadLinear(manifest, utf8({ weights, intercept: 0 }));
}

function pipeline(models: { active?: LoadedModel; shadow?: LoadedModel }) {
  const predictions: PredictionEvent[] = [];
  const errors: unknown[] = [];
  let now = 0;
  const p = new EdgePipeline({
    agentId: 'a1',
    bootId: 'b',
    channels,
    cleaning: () => ChannelCleaningConfigSchema.parse({ hampel: null }),
    features: (c) => ChannelFeatureConfigSchema.parse({ windowSize: c.kind === 'vibration' ? 1024 : 10 }),
    drift: AssetDriftConfigSchema.parse({}),
    models: { active: () => models.active, shadow: () => models.shadow },
    now: () => now,
    onPrediction: (e) => predictions.push({ ...e }),
    onModelError: (err) => errors.push(err),
  });
  return { p, predictions, errors, setNow: (t: number) => (now = t), models };
}

/** Feeds `seconds` of a 200 Hz sine (8 whole cycles per 1024-point window) of amplitude `amp` on the vibration channel and 20 degC on the temperature. */
function feed(p: EdgePipeline, seconds: number, amp: number, t0 = 0): void {
  const vib = new Float64Array(2560);
  for (let block = 0; block < seconds * 10; block++) {
    const t = t0 + block * 100;
    for (let i = 0; i < vib.length; i++) vib[i] = amp * Math.sin((2 * Math.PI * 200 * (block * 2560 + i)) / 25_600);
    p.accept({ channel: 'pump-1.vib_h', t0Ms: t, sampleRateHz: 25_600, values: vib, length: vib.length });
    p.accept({ channel: 'pump-1.temp', t0Ms: t, sampleRateHz: 10, values: Float64Array.of(20), length: 1 });
  }
}

describe('EdgePipeline', () => {
  it('scores asset-relative model inputs and explains the decision', async () => {
    const model = await linearModel(
      [
        { name: 'vib_h.rms', unit: 'g' },
        { name: 'temp.mean', unit: 'degC' },
      ],
      [2, 0],
    );
    const { p, predictions, errors } = pipeline({ active: model });
    feed(p, 2, 1);
    expect(errors).toEqual([]);
    expect(predictions.length).toBeGreaterThan(0);
    const last = predictions.at(-1)!;
    // RMS of a unit sine is 1/sqrt(2); weight 2 gives sqrt(2) >= threshold 1.
    expect(last.score).toBeCloseTo(Math.SQRT2, 2);
    expect(last).toMatchObject({ asset: 'pump-1', model: 'test-model', modelVersion: '1.0.0', decision: 'alert' });
    expect(last.reasons[0]).toMatchObject({ feature: 'vib_h.rms', unit: 'g' });
    expect(new Set(predictions.map((x) => x.predictionId)).size).toBe(predictions.length);
  });

  it('switches models between two inferences and reports per-version stats', async () => {
    const v1 = await linearModel([{ name: 'vib_h.rms', unit: 'g' }], [0.1], '1.0.0');
    const v2 = await linearModel([{ name: 'vib_h.rms', unit: 'g' }], [10], '2.0.0');
    const { p, predictions, models } = pipeline({ active: v1 });
    feed(p, 1, 1);
    models.active = v2;
    feed(p, 1, 1, 1000);
    const versions = predictions.map((x) => x.modelVersion);
    expect(versions[0]).toBe('1.0.0');
    expect(versions.at(-1)).toBe('2.0.0');
    // No prediction after the switch came from the old model.
    expect(versions.slice(versions.indexOf('2.0.0')).every((v) => v === '2.0.0')).toBe(true);
    const stats = p.takeModelStats();
    expect(stats.map((s) => s.modelVersion).sort()).toEqual(['1.0.0', '2.0.0']);
    expect(stats.find((s) => s.modelVersion === '2.0.0')!.alerts).toBeGreaterThan(0);
  });

  it('counts shadow disagreement without acting on the shadow model', async () => {
    const active = await linearModel([{ name: 'vib_h.rms', unit: 'g' }], [0.1], '1.0.0');
    const shadow = await linearModel([{ name: 'vib_h.rms', unit: 'g' }], [10], '2.0.0');
    const { p, predictions } = pipeline({ active, shadow });
    feed(p, 1, 1);
    expect(predictions.every((x) => x.modelVersion === '1.0.0' && x.decision === 'normal')).toBe(true);
    const [s] = p.takeModelStats();
    expect(s!.shadowVersion).toBe('2.0.0');
    expect(s!.shadowDisagreements).toBe(s!.shadowCompared);
    expect(s!.shadowCompared).toBeGreaterThan(0);
  });

  it('refuses a model whose inputs this agent does not produce, naming them', async () => {
    const model = await linearModel([{ name: 'vib_v.rms', unit: 'g' }], [1]);
    const { p, predictions, errors } = pipeline({ active: model });
    expect(() => p.assertServable(model)).toThrow(ModelLoadError);
    feed(p, 1, 1);
    expect(predictions).toEqual([]);
    expect(String((errors[0] as Error).message)).toContain('vib_v.rms');
  });

  it('resolves full names before asset-relative ones', () => {
    const catalog = [{ name: 'pump-1.vib_h.rms', unit: 'g' }];
    expect(resolveInputs('pump-1', catalog, [{ name: 'vib_h.rms', unit: 'g' }])).toEqual([
      { name: 'pump-1.vib_h.rms', unit: 'g' },
    ]);
    expect(resolveInputs('pump-1', catalog, [{ name: 'pump-1.vib_h.rms', unit: 'g' }])[0]!.name).toBe(
      'pump-1.vib_h.rms',
    );
  });
});
