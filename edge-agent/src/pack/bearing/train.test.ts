import { describe, expect, it } from 'vitest';
import { defaultArtifact, defaultIndicatorConfig } from './defaults.js';
import { SKF_6205 } from './geometry.js';
import { indicatorSpecs } from './indicators.js';
import { chooseThreshold, type RunIndicators } from './train.js';

const MIN = 60_000;

/** A run whose high band is flat for `healthyMin` minutes, then grows 10 % a minute until failure. */
function run(name: string, healthyMin: number, lifeMin: number, highBand: number): RunIndicators {
  const tMs: number[] = [];
  const rows: Float64Array[] = [];
  for (let m = 0; m <= lifeMin; m++) {
    const row = new Float64Array(indicatorSpecs(ARTIFACT.indicators).length).fill(1);
    row[highBand] = (1 + 0.01 * Math.sin(m)) * 1.1 ** Math.max(0, m - healthyMin);
    tMs.push(m * MIN);
    rows.push(row);
  }
  return { name, tMs, rows, startMs: 0, failureMs: lifeMin * MIN };
}

const ARTIFACT = defaultArtifact({
  channels: ['de'],
  shaftHz: 30,
  indicators: defaultIndicatorConfig(12_000, 4096, SKF_6205),
});

describe('chooseThreshold', () => {
  it('takes the lowest of equally good thresholds for lead, or the middle of them for robustness', () => {
    const high = indicatorSpecs(ARTIFACT.indicators).findIndex((s) => s.name === ARTIFACT.scoring.alarmIndicators![0]);
    const runs = [run('a', 100, 160, high), run('b', 80, 150, high)];
    const candidates = [2, 3, 4, 5, 6];
    const lead = chooseThreshold(ARTIFACT, runs, candidates, 0, 'longest-lead');
    const middle = chooseThreshold(ARTIFACT, runs, candidates, 0, 'plateau-middle');
    expect(lead.plateau).toEqual(candidates);
    expect(lead.threshold).toBe(2);
    expect(middle.threshold).toBe(4);
    expect(middle.summary).toMatchObject({ detected: 2, falseAlerts: 0 });
  });
});
