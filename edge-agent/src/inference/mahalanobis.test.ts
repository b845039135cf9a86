import { describe, expect, it } from 'vitest';
import type { ModelLoadError } from '../domain/errors.js';
import { loadMahalanobis } from './mahalanobis.js';
import { testManifest, utf8 } from './testkit.js';

const x = (...v: number[]) => Float64Array.from(v);
const manifest = testManifest('mahalanobis', 2, {
  output: { meaning: 'd', alertThreshold: 3, uncertainLow: 0, uncertainHigh: 0 },
});

describe('mahalanobis runtime', () => {
  it('scores the distance under a diagonal covariance', async () => {
    const model = await loadMahalanobis(
      manifest,
      utf8({
        mean: [1, 2],
        covariance: [
          [4, 0],
          [0, 1],
        ],
      }),
    );
    const r = model.score(x(5, 2));
    // d = (4, 0), d²/σ² = 16/4 = 4.
    expect(r.score).toBeCloseTo(2, 12);
    expect(r.decision).toBe('normal');
    expect(r.reasons).toEqual([
      { feature: 'f0', value: 5, unit: 'mm/s', contribution: 2, baseline: 1, text: 'f0 5.0x baseline' },
    ]);
    expect(model.score(x(1, 5.5)).decision).toBe('alert');
  });

  it('accounts for correlation: along the correlation the distance is smaller than across it', async () => {
    const model = await loadMahalanobis(
      manifest,
      utf8({
        mean: [0, 0],
        covariance: [
          [2, 1],
          [1, 2],
        ],
      }),
    );
    // S⁻¹ = [[2, -1], [-1, 2]] / 3.
    expect(model.score(x(1, 1)).score).toBeCloseTo(Math.sqrt(2 / 3), 12);
    const across = model.score(x(1, -1));
    expect(across.score).toBeCloseTo(Math.sqrt(2), 12);
    const sum = across.reasons.reduce((s, q) => s + q.contribution, 0);
    expect(sum).toBeCloseTo(across.score, 12);
  });

  it('gives the same answer from an inverse covariance, and the squared distance on request', async () => {
    const inverse = [
      [2 / 3, -1 / 3],
      [-1 / 3, 2 / 3],
    ];
    const model = await loadMahalanobis(manifest, utf8({ mean: [0, 0], inverseCovariance: inverse }));
    expect(model.score(x(1, -1)).score).toBeCloseTo(Math.sqrt(2), 12);
    const squared = await loadMahalanobis(
      manifest,
      utf8({ mean: [0, 0], inverseCovariance: inverse, scoreTransform: 'squared' }),
    );
    const r = squared.score(x(1, -1));
    expect(r.score).toBeCloseTo(2, 12);
    expect(r.reasons.map((q) => q.contribution)).toEqual([expect.closeTo(1, 12), expect.closeTo(1, 12)]);
  });

  it('writes reasons as a ratio to the healthy baseline', async () => {
    const model = await loadMahalanobis(
      manifest,
      utf8({
        mean: [2, 10],
        covariance: [
          [1, 0],
          [0, 1],
        ],
      }),
    );
    expect(model.score(x(6.2, 10)).reasons[0]!.text).toBe('f0 3.1x baseline');
  });

  it('inverts a singular covariance only with a ridge', async () => {
    const singular = {
      mean: [0, 0],
      covariance: [
        [1, 1],
        [1, 1],
      ],
    };
    await expect(loadMahalanobis(manifest, utf8(singular))).rejects.toThrow(/not symmetric positive definite/);
    const model = await loadMahalanobis(manifest, utf8({ ...singular, ridge: 0.5 }));
    // S + 0.5 I = [[1.5, 1], [1, 1.5]], det 1.25; for (1, 0): d² = 1.5 / 1.25.
    expect(model.score(x(1, 0)).score).toBeCloseTo(Math.sqrt(1.2), 12);
  });

  it('rejects a mean of the wrong width, a non-square matrix, or both matrices at once', async () => {
    const wide = await loadMahalanobis(manifest, utf8({ mean: [0, 0, 0], covariance: [[1]] })).catch((e: unknown) => e);
    expect((wide as ModelLoadError).details).toMatchObject({ what: 'mean length', expected: 2, actual: 3 });
    await expect(loadMahalanobis(manifest, utf8({ mean: [0, 0], covariance: [[1, 0]] }))).rejects.toThrow(/2x2/);
    const both = {
      mean: [0, 0],
      covariance: [
        [1, 0],
        [0, 1],
      ],
      inverseCovariance: [
        [1, 0],
        [0, 1],
      ],
    };
    await expect(loadMahalanobis(manifest, utf8(both))).rejects.toThrow(/exactly one/);
  });

  it("decides 'unknown' for NaN input without throwing", async () => {
    const model = await loadMahalanobis(
      manifest,
      utf8({
        mean: [0, 0],
        covariance: [
          [1, 0],
          [0, 1],
        ],
      }),
    );
    expect(model.score(x(Number.NaN, 0))).toEqual({ score: Number.NaN, decision: 'unknown', reasons: [] });
  });
});
