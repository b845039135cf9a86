import { describe, expect, it } from 'vitest';
import { ModelLoadError } from '../domain/errors.js';
import { loadOnnx } from './onnx.js';
import { mlpForward, mlpOnnx, randomMlp, seededRandom, testManifest } from './testkit.js';

describe('onnx runtime', () => {
  const rand = seededRandom(7);
  const mlp = randomMlp(rand, [4, 8, 1], 'sigmoid');
  const manifest = testManifest('onnx', 4, {
    output: { meaning: 'p', alertThreshold: 0.99, uncertainLow: 0, uncertainHigh: 0 },
  });

  it('scores a 4->8->1 relu/sigmoid MLP built by the test like the same math in JS', async () => {
    const model = await loadOnnx(manifest, mlpOnnx(mlp));
    try {
      for (let k = 0; k < 20; k++) {
        const input = Float64Array.from({ length: 4 }, () => rand() * 4 - 2);
        const r = model.score(input);
        // ORT computes in float32.
        expect(r.score).toBeCloseTo(mlpForward(mlp, input)[0]!, 5);
        expect(r.decision).toBe(r.score >= 0.99 ? 'alert' : 'normal');
      }
    } finally {
      model.dispose();
    }
  });

  it('explains by occlusion: for a linear model each contribution is w_i (x_i - reference_i)', async () => {
    const linear = [{ weights: [[1], [-2], [0.5], [3]], bias: [0.25], activation: 'none' as const }];
    const withRef = testManifest('onnx', 4, {
      reference: [{ feature: 'f1', binEdges: [], binFractions: [], mean: 1, std: 1 }],
      output: { meaning: 'y', alertThreshold: 5, uncertainLow: 0, uncertainHigh: 0 },
    });
    for (const batch of ['symbolic', 1] as const) {
      const model = await loadOnnx(withRef, mlpOnnx(linear, { batch }));
      const input = Float64Array.from([2, 3, -4, 1]);
      const r = model.score(input, 4);
      expect(r.score).toBeCloseTo(2 - 6 - 2 + 3 + 0.25, 5);
      expect(r.decision).toBe('normal');
      expect(r.reasons).toEqual([]);
      const reasons = model.explain(input, 4);
      expect(reasons.map((q) => q.feature)).toEqual(['f1', 'f3', 'f0', 'f2']);
      expect(reasons.map((q) => q.contribution)).toEqual([-4, 3, 2, -2].map((c) => expect.closeTo(c, 5)));
      expect(reasons[0]).toMatchObject({ baseline: 1, text: 'f1 3.0x baseline' });
      model.dispose();
    }
  });

  it('computes reasons in score only when the decision is an alert', async () => {
    const linear = [{ weights: [[1], [1], [1], [1]], bias: [0], activation: 'none' as const }];
    const model = await loadOnnx(testManifest('onnx', 4), mlpOnnx(linear));
    expect(model.score(Float64Array.from([0.1, 0, 0, 0])).reasons).toEqual([]);
    const alert = model.score(Float64Array.from([1, 0, 0, 2]), 2);
    expect(alert.decision).toBe('alert');
    expect(alert.reasons.map((q) => q.feature)).toEqual(['f3', 'f0']);
    model.dispose();
  });

  it("decides 'unknown' for NaN input without running the model or throwing", async () => {
    const model = await loadOnnx(manifest, mlpOnnx(mlp));
    const r = model.score(Float64Array.from([0, Number.NaN, 0, 0]));
    expect(r.decision).toBe('unknown');
    expect(r.score).toBeNaN();
    model.dispose();
  });

  it('rejects a model whose input width differs from the manifest', async () => {
    const err = await loadOnnx(testManifest('onnx', 5), mlpOnnx(mlp)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelLoadError);
    expect((err as ModelLoadError).details).toMatchObject({
      what: "ONNX input 'features' width",
      expected: 5,
      actual: 4,
    });
  });

  it('rejects a score output name the model does not have', async () => {
    const named = testManifest('onnx', 4, {
      output: { meaning: 'p', alertThreshold: 0.5, uncertainLow: 0, uncertainHigh: 0, onnxOutput: 'probability' },
    });
    await expect(loadOnnx(named, mlpOnnx(mlp))).rejects.toThrow(/output 'probability' not found; model has \[score\]/);
    const right = await loadOnnx({ ...named, output: { ...named.output, onnxOutput: 'score' } }, mlpOnnx(mlp));
    right.dispose();
  });

  it('rejects bytes that are not an ONNX model', async () => {
    await expect(loadOnnx(manifest, new Uint8Array([1, 2, 3, 4]))).rejects.toBeInstanceOf(ModelLoadError);
  });
});
