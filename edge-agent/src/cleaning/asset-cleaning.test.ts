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
});
