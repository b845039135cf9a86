import { describe, expect, it } from 'vitest';
import { ModelLoadError } from '../domain/errors.js';
import { loadLinear, loadLogistic } from './linear.js';
import { testManifest, utf8 } from './testkit.js';

const x = (...v: number[]) => Float64Array.from(v);

describe('linear runtime', () => {
  const manifest = testManifest('linear', 3, {
    output: { meaning: 'm', alertThreshold: 9, uncertainLow: 0, uncertainHigh: 0 },
  });
  const artifact = utf8({ weights: [2, -1, 0.5], intercept: 1, featureMeans: [1, 1, 1] });

  it('scores intercept + w·x and gives exact centred contributions', async () => {
    const model = await loadLinear(manifest, artifact);
    const r = model.score(x(3, 0, 5));
    expect(r.score).toBe(9.5);
    expect(r.decision).toBe('alert');
    expect(r.reasons.map((q) => [q.feature, q.contribution])).toEqual([
      ['f0', 4],
      ['f2', 2],
      ['f1', 1],
    ]);
    // Centred intercept 1 + 2 - 1 + 0.5 = 2.5, plus the contributions, is the score.
    expect(2.5 + r.reasons.reduce((s, q) => s + q.contribution, 0)).toBe(9.5);
    expect(r.reasons[0]).toMatchObject({ value: 3, unit: 'mm/s', baseline: 1, text: 'f0 3.0x baseline' });
  });

  it('returns at most topK reasons and leaves out features that contribute nothing', async () => {
    const model = await loadLinear(manifest, artifact);
    expect(model.score(x(3, 0, 5), 1).reasons.map((q) => q.feature)).toEqual(['f0']);
    expect(model.score(x(1, 1, 9), 3).reasons.map((q) => q.feature)).toEqual(['f2']);
    expect(model.score(x(3, 0, 5), 0).reasons).toEqual([]);
  });

  it("says 'normal' below the threshold and 'unknown' for NaN or infinite input without throwing", async () => {
    const model = await loadLinear(manifest, artifact);
    expect(model.score(x(1, 1, 1)).decision).toBe('normal');
    const nan = model.score(x(1, Number.NaN, 1));
    expect(nan.decision).toBe('unknown');
    expect(nan.reasons).toEqual([]);
    expect(model.score(x(Number.POSITIVE_INFINITY, 1, 1)).decision).toBe('unknown');
  });

  it('rejects weights whose length differs from the manifest inputs', async () => {
    const err = await loadLinear(manifest, utf8({ weights: [1, 2], intercept: 0 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelLoadError);
    expect((err as ModelLoadError).details).toMatchObject({ what: 'weights length', expected: 3, actual: 2 });
  });

  it('rejects an artifact that is not JSON or misses the intercept', async () => {
    await expect(loadLinear(manifest, new Uint8Array([0xff, 0x00]))).rejects.toBeInstanceOf(ModelLoadError);
    await expect(loadLinear(manifest, utf8({ weights: [1, 2, 3] }))).rejects.toThrow(/intercept/);
  });
});

describe('logistic runtime', () => {
  const manifest = testManifest('logistic', 2);
  const artifact = utf8({ weights: [1, 2], intercept: -1 });

  it('scores the sigmoid of the margin', async () => {
    const model = await loadLogistic(manifest, artifact);
    expect(model.score(x(0.5, 0.25)).score).toBe(0.5);
    expect(model.score(x(0.5, 0.25)).decision).toBe('alert');
    expect(model.score(x(2, 1)).score).toBeCloseTo(1 / (1 + Math.exp(-3)), 15);
    expect(model.score(x(-2, 0)).score).toBeCloseTo(1 / (1 + Math.exp(3)), 15);
  });

  it('gives contributions in log-odds that add up with the intercept to the margin', async () => {
    const model = await loadLogistic(manifest, artifact);
    const r = model.score(x(2, 1));
    expect(r.reasons.map((q) => q.contribution)).toEqual([2, 2]);
    expect(-1 + r.reasons[0]!.contribution + r.reasons[1]!.contribution).toBe(3);
    expect(r.reasons[0]!.baseline).toBeNaN();
    expect(r.reasons[0]!.text).toBe('f0 2 mm/s');
  });
});
