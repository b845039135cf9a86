/**
 * `edge.pipeline.points_per_s`: the agent's real EdgePipeline (cleaning -> features -> inference
 * with reasons) on one core, 4 vibration channels at 25.6 kHz of synthetic signal (shaft and
 * bearing tones, noise, rare electrical spikes), scored by a 100-tree depth-6 XGBoost model over
 * every feature of the asset. Baseline: a bare sum-of-squares pass over the same samples.
 */
import { AssetDriftConfigSchema, ChannelCleaningConfigSchema } from '@millwright/edge-agent/cleaning/config.js';
import type { ChannelSpec } from '@millwright/edge-agent/domain/channel.js';
import { ChannelFeatureConfigSchema } from '@millwright/edge-agent/features/config.js';
import { randomTree, seededRandom, testManifest, utf8, xgboostJson } from '@millwright/edge-agent/inference/testkit.js';
import { loadXgboost } from '@millwright/edge-agent/inference/xgboost.js';
import { EdgePipeline } from '@millwright/edge-agent/pipeline/edge-pipeline.js';
import type { BenchContext } from '../report.js';

const RATE = 25_600;
const BLOCK = 2560;
const MEASURE_MS = 3000;

function signal(seed: number): Float64Array {
  const rand = seededRandom(seed);
  const x = new Float64Array(RATE);
  for (let i = 0; i < RATE; i++) {
    const t = i / RATE;
    const noise = (rand() + rand() + rand() - 1.5) * 0.2;
    x[i] = 0.5 * Math.sin(2 * Math.PI * 30 * t) + 0.1 * Math.sin(2 * Math.PI * 3200 * t) + noise;
    if (rand() < 1e-4) x[i] = 40;
  }
  return x;
}

export async function benchFullPipeline(ctx: BenchContext): Promise<void> {
  const channels: ChannelSpec[] = [0, 1, 2, 3].map((i) => ({
    name: `m1.vib${i}`,
    unit: 'g',
    sampleRateHz: RATE,
    kind: 'vibration',
    asset: 'm1',
  }));
  const featureCfg = ChannelFeatureConfigSchema.parse({
    windowSize: 2048,
    bands: [
      { lowHz: 0, highHz: 500 },
      { lowHz: 500, highHz: 2000 },
      { lowHz: 2000, highHz: 5000 },
      { lowHz: 5000, highHz: 12800 },
    ],
  });
  let model: Awaited<ReturnType<typeof loadXgboost>> | undefined;
  let predictions = 0;
  const pipeline = new EdgePipeline({
    agentId: 'bench',
    bootId: 'b',
    channels,
    cleaning: () => ChannelCleaningConfigSchema.parse({}),
    features: () => featureCfg,
    drift: AssetDriftConfigSchema.parse({}),
    models: { active: () => model, shadow: () => undefined },
    now: Date.now,
    onPrediction: () => {
      predictions++;
    },
    onModelError: (err) => {
      throw err;
    },
  });
  const inputs = pipeline.catalog().m1!;
  const rand = seededRandom(3);
  const trees = Array.from({ length: 100 }, () => randomTree(rand, 6, inputs.length));
  const artifact = xgboostJson({ trees, numFeature: inputs.length, baseScore: 0.5, objective: 'binary:logistic' });
  model = await loadXgboost(testManifest('xgboost_json', inputs.length, { inputs }), utf8(artifact));
  const signals = channels.map((_, i) => signal(i + 1));
  const block = new Float64Array(BLOCK);
  let points = 0;
  let t = 0;
  const run = (ms: number) => {
    const end = performance.now() + ms;
    let blocks = 0;
    while (performance.now() < end) {
      for (let c = 0; c < channels.length; c++) {
        const off = (blocks * BLOCK) % RATE;
        block.set(signals[c]!.subarray(off, off + BLOCK));
        pipeline.accept({ channel: channels[c]!.name, t0Ms: t, sampleRateHz: RATE, values: block, length: BLOCK });
        points += BLOCK;
      }
      blocks++;
      t += 100;
    }
  };
  run(500);
  points = 0;
  predictions = 0;
  const started = performance.now();
  run(MEASURE_MS);
  const seconds = (performance.now() - started) / 1000;
  const baseline = bareSumOfSquares(signals, seconds);
  ctx.log(
    `${(points / seconds / 1e6).toFixed(2)}M points/s, ${predictions} predictions with reasons; ${inputs.length} features`,
  );
  ctx.emit({
    metric: 'edge.pipeline.points_per_s',
    value: points / seconds,
    unit: 'points/s',
    baseline: 'bare_sum_of_squares',
    baseline_value: baseline,
  });
}

function bareSumOfSquares(signals: Float64Array[], seconds: number): number {
  let points = 0;
  let acc = 0;
  const end = performance.now() + Math.min(1000, seconds * 1000);
  const started = performance.now();
  while (performance.now() < end) {
    for (const s of signals) {
      for (let i = 0; i < s.length; i++) acc += s[i]! * s[i]!;
      points += s.length;
    }
  }
  if (acc === -1) throw new Error('unreachable');
  return points / ((performance.now() - started) / 1000);
}
