/**
 * Cleaning + windowed features on one core: 4 vibration channels at 25.6 kHz, 2560-sample blocks
 * (100 ms), 2048-point windows with 4 band energies, every feature bound into one asset vector.
 * The synthetic signal has a shaft tone, a bearing tone, Gaussian noise and rare electrical spikes.
 * Baseline: a bare sum-of-squares pass over the same arrays, the floor of any per-point work.
 */
import { AssetCleaning } from '@millwright/edge-agent/cleaning/asset-cleaning.js';
import type { CleanedBlock } from '@millwright/edge-agent/cleaning/channel-cleaner.js';
import type { ChannelCleaningConfig } from '@millwright/edge-agent/cleaning/config.js';
import { AssetDriftConfigSchema, ChannelCleaningConfigSchema } from '@millwright/edge-agent/cleaning/config.js';
import type { ChannelSpec } from '@millwright/edge-agent/domain/channel.js';
import { gaussian, uniform } from '@millwright/edge-agent/dsp/random.js';
import { AssetFeatures } from '@millwright/edge-agent/features/asset-features.js';
import type { ChannelFeatureConfig } from '@millwright/edge-agent/features/config.js';
import { ChannelFeatureConfigSchema } from '@millwright/edge-agent/features/config.js';
import type { BenchContext } from '../report.js';

const RATE = 25_600;
const CHANNELS = 4;
const BLOCK = 2560;
/** One second of signal per channel, replayed with advancing timestamps. */
const SIGNAL = RATE;
const MEASURE_MS = 3000;
const WARMUP_MS = 500;

interface Rig {
  blocks: { channel: string; t0Ms: number; sampleRateHz: number; values: Float64Array; length: number }[];
  signals: Float64Array[];
  cleaning: AssetCleaning;
  features: AssetFeatures;
  sink: (b: CleanedBlock) => void;
  vectors: number;
  /** Samples fed per channel so far: timestamps stay continuous across runs. */
  offset: number;
}

export async function benchPipeline(ctx: BenchContext): Promise<void> {
  const rig = makeRig();
  runPipeline(rig, WARMUP_MS);
  const cpu0 = process.cpuUsage();
  const { points, ms } = runPipeline(rig, MEASURE_MS);
  const cpu = process.cpuUsage(cpu0);
  bareLoop(rig, WARMUP_MS);
  const bare = bareLoop(rig, MEASURE_MS);
  const perS = (points / ms) * 1000;
  const barePerS = (bare.points / bare.ms) * 1000;
  const quality = rig.cleaning.snapshot();
  // CPU time as well as wall time: on a shared box the wall figure also counts time spent waiting for a core.
  const cpuPerS = points / ((cpu.user + cpu.system) / 1e6);
  ctx.log(
    `clean+features: ${points} points in ${ms.toFixed(0)} ms (${cpuPerS.toExponential(3)} points per CPU second), ${rig.vectors} vectors; ` +
      `spikes flagged ${quality.reduce((s, q) => s + q.spikes, 0)}; bare loop ${barePerS.toExponential(3)} points/s`,
  );
  ctx.emit({
    metric: 'edge.pipeline.clean_features_points_per_s',
    value: perS,
    unit: 'points/s',
    baseline: 'edge.pipeline.bare_sum_squares_points_per_s',
    baseline_value: barePerS,
  });
}

function makeRig(): Rig {
  const specs: ChannelSpec[] = Array.from({ length: CHANNELS }, (_, c) => ({
    name: `pump1.vib_${c}`,
    unit: 'g',
    sampleRateHz: RATE,
    kind: 'vibration',
    asset: 'pump1',
  }));
  const cleaningConfigs: Record<string, ChannelCleaningConfig> = {};
  const featureConfigs: Record<string, ChannelFeatureConfig> = {};
  for (const s of specs) {
    cleaningConfigs[s.name] = ChannelCleaningConfigSchema.parse({ range: { min: -50, max: 50 } });
    featureConfigs[s.name] = ChannelFeatureConfigSchema.parse({
      windowSize: 2048,
      bands: [
        { lowHz: 0, highHz: 500 },
        { lowHz: 500, highHz: 2000 },
        { lowHz: 2000, highHz: 6000 },
        { lowHz: 6000, highHz: 12_801 },
      ],
    });
  }
  const cleaning = new AssetCleaning({
    channels: specs,
    configs: cleaningConfigs,
    drift: AssetDriftConfigSchema.parse({}),
  });
  const features = new AssetFeatures({ channels: specs, configs: featureConfigs });
  const rig: Rig = {
    blocks: specs.map((s) => ({
      channel: s.name,
      t0Ms: 0,
      sampleRateHz: RATE,
      values: new Float64Array(BLOCK),
      length: BLOCK,
    })),
    signals: specs.map((_, c) => synthetic(c)),
    cleaning,
    features,
    sink: (b) => features.push(b),
    vectors: 0,
    offset: 0,
  };
  features.bind(
    features.catalog.map((f) => f.name),
    () => rig.vectors++,
  );
  return rig;
}

function synthetic(seed: number): Float64Array {
  const g = gaussian(seed + 1);
  const u = uniform(seed + 101);
  const x = new Float64Array(SIGNAL);
  for (let i = 0; i < SIGNAL; i++) {
    const t = i / RATE;
    x[i] = 0.5 * Math.sin(2 * Math.PI * 29.5 * t) + 0.1 * Math.sin(2 * Math.PI * 3150 * t) + 0.05 * g();
    if (u() < 1e-4) x[i]! += 20;
  }
  return x;
}

/** Feeds blocks round-robin over the channels until `durationMs` has passed; points fed. */
function runPipeline(rig: Rig, durationMs: number): { points: number; ms: number } {
  let points = 0;
  const start = performance.now();
  let now = start;
  let offset = rig.offset;
  while (now - start < durationMs) {
    for (let c = 0; c < CHANNELS; c++) {
      const b = rig.blocks[c]!;
      b.values.set(rig.signals[c]!.subarray(offset % SIGNAL, (offset % SIGNAL) + BLOCK));
      b.t0Ms = (offset * 1000) / RATE;
      rig.cleaning.process(b, rig.sink);
      points += BLOCK;
    }
    offset += BLOCK;
    if ((offset / BLOCK) % 10 === 0) now = performance.now();
  }
  rig.offset = offset;
  return { points, ms: performance.now() - start };
}

/** Sum of squares over the same arrays, block by block; the sum is kept so the loop is not dead code. */
function bareLoop(rig: Rig, durationMs: number): { points: number; ms: number } {
  let points = 0;
  let acc = 0;
  let offset = 0;
  const start = performance.now();
  let now = start;
  while (now - start < durationMs) {
    for (let c = 0; c < CHANNELS; c++) {
      const x = rig.signals[c]!;
      const from = offset % SIGNAL;
      for (let i = from; i < from + BLOCK; i++) acc += x[i]! * x[i]!;
      points += BLOCK;
    }
    offset += BLOCK;
    if ((offset / BLOCK) % 10 === 0) now = performance.now();
  }
  if (acc === -1) throw new Error('unreachable');
  return { points, ms: performance.now() - start };
}
