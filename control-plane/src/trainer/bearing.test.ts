import { defaultArtifact, defaultIndicatorConfig } from '@millwright/edge-agent/pack/bearing/defaults.js';
import { PRONOSTIA } from '@millwright/edge-agent/pack/bearing/geometry.js';
import type { RunIndicators } from '@millwright/edge-agent/pack/bearing/train.js';
import { describe, expect, it } from 'vitest';
import { fitBearing, windowSpecOf } from './bearing.js';

const base = {
  ...defaultArtifact({
    channels: ['h'],
    shaftHz: 25,
    indicators: defaultIndicatorConfig(25_600, 2560, PRONOSTIA),
  }),
  window: { length: 2560, everyS: 10 },
};
const dims = base.prior.median.length;
const opts = { thresholds: [3, 5], maxFalseAlertsPerRun: 0 };

/** `n` windows 100 s apart whose every indicator is `level` (times 1.1 on odd windows). */
function run(n: number, level: number): RunIndicators {
  const tMs = Array.from({ length: n }, (_, i) => i * 100_000);
  const rows = tMs.map((_, i) => new Float64Array(dims).fill(level * (i % 2 ? 1.1 : 1)));
  return { name: `r${level}`, tMs, rows, startMs: 0, failureMs: tMs.at(-1)! };
}

describe('fitBearing', () => {
  it('fits the prior on the runs’ commissioning windows and keeps the base threshold without a failed run', () => {
    const { artifact, choice } = fitBearing(base, [run(12, 2), run(12, 8)], [false, false], opts);
    expect(choice).toBeUndefined();
    expect(artifact.scoring.threshold).toBe(base.scoring.threshold);
    // Per run: the median of 7 commissioning windows (0..600 s) is the level; over runs, their middle.
    expect(artifact.prior.median[0]).toBeCloseTo((Math.log(2) + Math.log(8)) / 2, 12);
  });

  it('chooses the threshold among the candidates and the base’s when a run failed', () => {
    const { artifact, choice } = fitBearing(base, [run(12, 2), run(40, 3)], [false, true], opts);
    expect(choice?.tried.map((t) => t.threshold)).toEqual([3, 4, 5]);
    expect(artifact.scoring.threshold).toBe(choice?.threshold);
  });

  it('fits the prior on the baseline runs when given, not on runs of alert-driven captures', () => {
    const { artifact } = fitBearing(base, [run(12, 50)], [false], opts, [run(12, 2), run(12, 8)]);
    expect(artifact.prior.median[0]).toBeCloseTo((Math.log(2) + Math.log(8)) / 2, 12);
  });

  it('refuses when no machine has enough windows to commission', () => {
    expect(() => fitBearing(base, [run(3, 2)], [false], opts)).toThrow(/enough baseline windows .* to commission/);
  });
});

describe('windowSpecOf', () => {
  it('reads what the agent collects for the artifact', () => {
    expect(windowSpecOf(base)).toEqual({ channels: ['h'], length: 2560, sampleRateHz: 25_600, shaftHz: 25 });
  });
});
