import { describe, expect, it } from 'vitest';
import type { CleanedBlock } from '../cleaning/channel-cleaner.js';
import type { ChannelSpec } from '../domain/channel.js';
import { Quality } from '../domain/channel.js';
import { ModelLoadError } from '../domain/errors.js';
import type { FeatureVectorReady } from './asset-features.js';
import { AssetFeatures } from './asset-features.js';
import type { ChannelFeatureConfig } from './config.js';
import { ChannelFeatureConfigSchema } from './config.js';

const VIB: ChannelSpec = { name: 'm1.vib', unit: 'g', sampleRateHz: 1000, kind: 'vibration', asset: 'm1' };
const TEMP: ChannelSpec = { name: 'm1.temp', unit: 'degC', sampleRateHz: 10, kind: 'process', asset: 'm1' };

function asset(): AssetFeatures {
  const cfg = (x: unknown) => ChannelFeatureConfigSchema.parse(x) as ChannelFeatureConfig;
  return new AssetFeatures({
    channels: [VIB, TEMP],
    configs: {
      'm1.vib': cfg({ windowSize: 100, bands: [{ lowHz: 0, highHz: 100 }] }),
      'm1.temp': cfg({ windowSize: 10 }),
    },
  });
}

function block(spec: ChannelSpec, n: number, f: (i: number) => number, t0Ms = 0, flag = 0): CleanedBlock {
  return {
    channel: spec.name,
    t0Ms,
    sampleRateHz: spec.sampleRateHz,
    values: Float64Array.from({ length: n }, (_, i) => f(i)),
    flags: new Uint8Array(n).fill(flag),
    length: n,
  };
}

describe('AssetFeatures', () => {
  it('fills the model input vector in schema order once every channel completed a window', () => {
    const a = asset();
    const got: { vector: number[]; ready: Omit<FeatureVectorReady, 'vector'> }[] = [];
    a.bind(['m1.temp.mean', 'm1.vib.rms', 'm1.temp.max'], (r) => got.push({ vector: Array.from(r.vector), ready: r }));
    a.push(block(VIB, 100, (i) => (i % 2 === 0 ? 1 : -1)));
    expect(got).toHaveLength(0);
    a.push(block(TEMP, 10, (i) => 20 + i));
    expect(got).toHaveLength(1);
    expect(got[0]!.vector).toEqual([24.5, 1, 29]);
    expect(got[0]!.ready.windowStartMs).toBe(0);
    expect(got[0]!.ready.windowEndMs).toBe(1000);
  });

  it('waits for fresh windows of every channel before the next vector', () => {
    const a = asset();
    let vectors = 0;
    a.bind(['m1.vib.rms', 'm1.temp.mean'], () => vectors++);
    a.push(block(VIB, 300, () => 1));
    a.push(block(TEMP, 10, () => 1));
    a.push(block(VIB, 100, () => 1, 300));
    expect(vectors).toBe(1);
    a.push(block(TEMP, 10, () => 1, 1000));
    expect(vectors).toBe(2);
  });

  it('reports the bad-point fraction over the windows used', () => {
    const a = asset();
    let bad = Number.NaN;
    a.bind(['m1.vib.rms', 'm1.temp.mean'], (r) => {
      bad = r.badFraction;
    });
    a.push(block(VIB, 100, (i) => i));
    a.push(block(TEMP, 10, () => 1, 0, Quality.OUT_OF_RANGE));
    expect(bad).toBeCloseTo(10 / 110, 12);
  });

  it('rejects at bind time every input name the asset does not produce', () => {
    const a = asset();
    try {
      a.bind(['m1.vib.rms', 'm1.vib.band_100_200', 'm2.temp.mean'], () => {});
      expect.unreachable('bind accepted missing features');
    } catch (err) {
      expect(err).toBeInstanceOf(ModelLoadError);
      expect((err as ModelLoadError).code).toBe('INVALID');
      expect((err as ModelLoadError).details['problems']).toEqual([
        'm1.vib.band_100_200: not produced',
        'm2.temp.mean: not produced',
      ]);
    }
  });

  it('rejects an input whose unit differs from the one produced', () => {
    const a = asset();
    expect(() => a.bind([{ name: 'm1.temp.mean', unit: 'degF' }], () => {})).toThrow(ModelLoadError);
    expect(() => a.bind([{ name: 'm1.temp.mean', unit: 'degC' }], () => {})).not.toThrow();
  });

  it('lists every feature it produces with units', () => {
    expect(asset().catalog.map((f) => `${f.name} [${f.unit}]`)).toEqual([
      'm1.vib.rms [g]',
      'm1.vib.peak [g]',
      'm1.vib.crest [1]',
      'm1.vib.kurtosis [1]',
      'm1.vib.skewness [1]',
      'm1.vib.band_0_100 [g^2]',
      'm1.temp.mean [degC]',
      'm1.temp.min [degC]',
      'm1.temp.max [degC]',
      'm1.temp.std [degC]',
      'm1.temp.rate_of_change [degC/s]',
    ]);
  });
});
