/**
 * Per-prediction latency of local inference, one call at a time as the pipeline makes them:
 * - built-in: XGBoost JSON model, 100 trees of depth 6 over 50 features, with its top 3 reasons;
 * - ONNX: MLP 50->64->64->1 through onnxruntime-node, batch 1 (reasons are computed only for
 *   alerts, so the occlusion cost of an alert is reported beside it).
 * Each call is timed with process.hrtime.bigint after a warm-up; models and inputs are seeded.
 */
import type { ModelManifest } from '@millwright/edge-agent/domain/model.js';
import { createRuntimeRegistry } from '@millwright/edge-agent/inference/registry.js';
import type { LoadedModel } from '@millwright/edge-agent/inference/runtime.js';
import {
  mlpOnnx,
  randomMlp,
  randomTree,
  seededRandom,
  testManifest,
  utf8,
  xgboostJson,
} from '@millwright/edge-agent/inference/testkit.js';
import { type BenchContext, percentile } from '../report.js';

const FEATURES = 50;
const WARMUP_CALLS = 20_000;
const MEASURED_CALLS = 200_000;
const EXPLAIN_CALLS = 5_000;

/** Emits edge.infer.builtin.p50_us, edge.infer.builtin.p99_us, edge.infer.onnx.p50_us/p99_us and the ONNX explain p99. */
export async function benchInfer(ctx: BenchContext): Promise<void> {
  const rand = seededRandom(2026);
  const inputs = Array.from({ length: 1024 }, () => Float64Array.from({ length: FEATURES }, () => rand() * 2 - 1));
  const registry = createRuntimeRegistry();

  const gbt = await registry.loadModel(manifest('xgboost_json'), gbtArtifact(rand));
  const builtin = timeCalls(inputs, (x) => gbt.score(x, 3).reasons.length);
  report(ctx, 'builtin', builtin, 'GBT 100x depth 6, 50 features, top-3 reasons');
  gbt.dispose();

  const mlp = await registry.loadModel(manifest('onnx'), mlpOnnx(randomMlp(rand, [FEATURES, 64, 64, 1], 'sigmoid')));
  try {
    const onnx = timeCalls(inputs, (x) => mlp.score(x, 3).score);
    report(ctx, 'onnx', onnx, 'MLP 50->64->64->1, batch 1, no reasons (not an alert)');
    const explain = timeCalls(inputs, (x) => explainOnce(mlp, x), EXPLAIN_CALLS);
    ctx.emit({ metric: 'edge.infer.onnx.explain_p99_us', value: percentile(explain, 99), unit: 'us' });
    ctx.log(`onnx occlusion reasons (one batch of 51 rows): p50 ${percentile(explain, 50).toFixed(1)} us`);
  } finally {
    mlp.dispose();
  }
}

function manifest(runtime: 'xgboost_json' | 'onnx'): ModelManifest {
  // A threshold above any score keeps the ONNX path on the common, no-alert case.
  return testManifest(runtime, FEATURES, {
    output: { meaning: 'anomaly', alertThreshold: 2, uncertainLow: 0, uncertainHigh: 0 },
  });
}

function gbtArtifact(rand: () => number): Uint8Array {
  const trees = Array.from({ length: 100 }, () => randomTree(rand, 6, FEATURES));
  return utf8(xgboostJson({ trees, numFeature: FEATURES, baseScore: 0.5, objective: 'binary:logistic' }));
}

function explainOnce(model: LoadedModel, x: Float64Array): number {
  return model.explain?.(x, 3).length ?? 0;
}

/** Latency of each call in microseconds, after `WARMUP_CALLS` unmeasured calls. */
function timeCalls(inputs: Float64Array[], call: (x: Float64Array) => number, calls = MEASURED_CALLS): Float64Array {
  let sink = 0;
  for (let i = 0; i < Math.min(WARMUP_CALLS, calls); i++) sink += call(inputs[i % inputs.length]!);
  const micros = new Float64Array(calls);
  for (let i = 0; i < calls; i++) {
    const x = inputs[i % inputs.length]!;
    const t0 = process.hrtime.bigint();
    sink += call(x);
    micros[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  // Using the results keeps the optimiser from dropping the calls.
  if (Number.isNaN(sink)) throw new Error('benchmark produced NaN scores');
  return micros;
}

function report(ctx: BenchContext, name: 'builtin' | 'onnx', micros: Float64Array, what: string): void {
  const p50 = percentile(micros, 50);
  const p99 = percentile(micros, 99);
  ctx.emit({ metric: `edge.infer.${name}.p50_us`, value: p50, unit: 'us' });
  ctx.emit({ metric: `edge.infer.${name}.p99_us`, value: p99, unit: 'us' });
  ctx.log(`${what}: p50 ${p50.toFixed(2)} us, p99 ${p99.toFixed(2)} us, max ${percentile(micros, 100).toFixed(1)} us`);
}
