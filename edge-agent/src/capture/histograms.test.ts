import { describe, expect, it } from 'vitest';
import type { ModelManifest } from '../domain/model.js';
import { binIndex, HistogramAccumulator } from './histograms.js';

const manifest: ModelManifest = {
  model: 'm',
  version: '1',
  runtime: 'logistic',
  inputs: [
    { name: 'a', unit: '' },
    { name: 'b', unit: '' },
  ],
  output: { meaning: '', alertThreshold: 0.5, uncertainLow: 0.4, uncertainHigh: 0.6 },
  selfTest: [],
  trainingMetrics: {},
  lineage: {},
  reference: [{ feature: 'b', binEdges: [0, 1, 2], binFractions: [0.5, 0.5], mean: 1, std: 0.5 }],
  sequence: 1,
};

describe('binIndex', () => {
  it('puts values below, inside and at or above the edges in the right slot', () => {
    const e = [0, 1, 2];
    expect([-1, 0, 0.5, 1, 1.99, 2, 5].map((v) => binIndex(e, v))).toEqual([0, 1, 1, 2, 2, 3, 3]);
  });
});

describe('HistogramAccumulator', () => {
  it('counts the referenced feature per hour and sends each count once', () => {
    const h = new HistogramAccumulator();
    const hour = 3_600_000;
    h.observe(manifest, [9, 0.5], 10);
    h.observe(manifest, [9, 1.5], 20);
    h.observe(manifest, [9, Number.NaN], 30);
    h.observe(manifest, [9, 7], hour + 5);
    expect(h.take(hour + 10, 60_000)).toEqual([
      {
        model: 'm',
        modelVersion: '1',
        startMs: 10,
        endMs: hour,
        windows: 3,
        features: [{ feature: 'b', counts: [0, 1, 1, 0] }],
      },
    ]);
    const rest = h.take(hour + 20, 60_000, true);
    expect(rest.map((b) => b.features[0]!.counts)).toEqual([[0, 0, 0, 1]]);
    expect(h.take(hour + 30, 0, true)).toEqual([]);
  });
});
