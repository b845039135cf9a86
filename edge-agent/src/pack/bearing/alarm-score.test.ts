import { describe, expect, it } from 'vitest';
import { ModelLoadError } from '../../domain/errors.js';
import { alarmBaselineFrom, fitAlarmBaseline, selectAlarmInputs } from './alarm-score.js';
import type { BearingHealthArtifact } from './artifact.js';
import { defaultArtifact, defaultIndicatorConfig } from './defaults.js';
import { PRONOSTIA } from './geometry.js';
import { buildManifest } from './manifest.js';
import { BearingHealthModel, type BearingHealthState } from './model.js';

const SPECS = ['rms', 'kurtosis', 'band_hi'];

describe('selectAlarmInputs', () => {
  it('groups one indicator across channels when fused, and splits it otherwise', () => {
    expect(selectAlarmInputs(2, SPECS, ['band_hi'], true).members).toEqual([[2, 5]]);
    expect(selectAlarmInputs(2, SPECS, ['band_hi'], false).members).toEqual([[2], [5]]);
    expect(selectAlarmInputs(1, SPECS, undefined, false).members).toEqual([[0], [1], [2]]);
  });

  it('fits the fused baseline on the channel mean of each window, not on each channel', () => {
    const s = selectAlarmInputs(2, SPECS, ['band_hi'], true);
    // Channels move in opposite directions: each channel is noisy, their mean is steady.
    const rows = [0.5, -0.5, 0.4, -0.4, 0].map((d) => [0, 0, d, 0, 0, -d]);
    const fused = fitAlarmBaseline(s, rows, 0.01);
    expect(fused.median).toEqual([0]);
    expect(fused.scale).toEqual([0.01]);
    const perInput = { median: [0, 0, 0, 0, 0, 0], scale: [1, 1, 0.5, 1, 1, 0.7] };
    expect(alarmBaselineFrom(s, perInput).scale[0]).toBeCloseTo(0.6, 12);
  });
});

function femtoModel(): { model: BearingHealthModel; names: string[]; artifact: BearingHealthArtifact } {
  const artifact = defaultArtifact({
    channels: ['h', 'v'],
    shaftHz: 30,
    indicators: defaultIndicatorConfig(25_600, 2560, PRONOSTIA),
  });
  artifact.commissioning = { durationS: 60, minWindows: 5, maxWindows: 64 };
  const manifest = buildManifest(artifact, { model: 'bearing', version: '1.0.0', sequence: 1 });
  return { model: new BearingHealthModel(manifest, artifact), names: manifest.inputs.map((i) => i.name), artifact };
}

function healthy(names: readonly string[], t: number): Float64Array {
  return Float64Array.from(names, (_, i) => (1 + i) * (1 + 0.02 * Math.sin(t + i)));
}

function commissioned() {
  const s = femtoModel();
  for (let t = 0; t <= 70; t += 10) s.model.scoreAt(healthy(s.names, t), t * 1000);
  return s;
}

describe('BearingHealthModel with the default fused high-band alarm', () => {
  it('counts a high-band rise on one accelerometer half as much as on both', () => {
    const { model, names } = commissioned();
    const one = healthy(names, 3);
    one[names.indexOf('h.band_8000_12800')]! *= 3;
    const both = Float64Array.from(one);
    both[names.indexOf('v.band_8000_12800')]! *= 3;
    const s1 = model.scoreAt(one, 80_000, 0).score;
    const s2 = model.scoreAt(both, 90_000, 0).score;
    // Each channel's 3x adds ln(3) / 2 to the fused log; the scale is at its 0.2 floor.
    expect(s1).toBeGreaterThan(2);
    expect(s2 - s1).toBeCloseTo(Math.log(3) / 2 / 0.2, 6);
  });

  it('names a moved indicator outside the alarm set as a reason without alarming on it', () => {
    const { model, names } = commissioned();
    const x = healthy(names, 3);
    x[names.indexOf('v.kurtosis')]! *= 5;
    const r = model.scoreAt(x, 80_000);
    expect(r.score).toBeLessThan(1);
    expect(r.reasons[0]!.feature).toBe('v.kurtosis');
  });

  it('names the ball when the cage rate and the ball line moved together, and the cage alone otherwise', () => {
    const { model, names } = commissioned();
    const ball = healthy(names, 3);
    ball[names.indexOf('h.env_ftf')]! *= 20;
    ball[names.indexOf('h.env_bsf')]! *= 3;
    expect(model.scoreAt(ball, 80_000).reasons[0]!.feature).toBe('h.env_bsf');
    const cage = healthy(names, 4);
    cage[names.indexOf('h.env_ftf')]! *= 20;
    expect(model.scoreAt(cage, 90_000).reasons[0]!.feature).toBe('h.env_ftf');
  });

  it('restores a state saved without alarm statistics and still scores the alarm', () => {
    const { model, names, artifact } = commissioned();
    const saved = JSON.parse(JSON.stringify(model.exportState())) as BearingHealthState;
    delete saved.baseline!.alarm;
    const restarted = new BearingHealthModel(model.manifest, artifact);
    restarted.importState(saved);
    const x = healthy(names, 3);
    x[names.indexOf('h.band_8000_12800')]! *= 10;
    x[names.indexOf('v.band_8000_12800')]! *= 10;
    expect(restarted.scoreAt(x, 80_000, 0).score).toBeGreaterThan(5);
  });

  it('refuses an artifact whose alarm names an indicator it does not compute', () => {
    const { model, artifact } = femtoModel();
    const bad = { ...artifact, scoring: { ...artifact.scoring, alarmIndicators: ['band_0_99'] } };
    expect(() => new BearingHealthModel(model.manifest, bad)).toThrow(ModelLoadError);
  });
});
