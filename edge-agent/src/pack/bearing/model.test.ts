import { describe, expect, it } from 'vitest';
import { ModelLoadError } from '../../domain/errors.js';
import { PersistenceAlarm } from './alarm.js';
import { parseArtifact, serializeArtifact } from './artifact.js';
import { CommissioningBuffer } from './baseline.js';
import { defaultArtifact, defaultIndicatorConfig } from './defaults.js';
import { SKF_6205 } from './geometry.js';
import { buildManifest, selfTestBearingHealth } from './manifest.js';
import { BearingHealthModel, loadBearingHealth } from './model.js';
import { formatRatio, reasonText } from './reasons.js';

function setup() {
  const artifact = defaultArtifact({
    channels: ['de'],
    shaftHz: 29.95,
    indicators: defaultIndicatorConfig(12_000, 4096, SKF_6205),
  });
  artifact.commissioning = { durationS: 60, minWindows: 5, maxWindows: 64 };
  artifact.scoring = { minLogScale: 0.2, topM: 1, threshold: 5, defectFirstMinZ: 3 };
  artifact.alarm = { k: 2, n: 3, holdOffS: 100 };
  const manifest = buildManifest(artifact, { model: 'pump1-bearing', version: '1.0.0', sequence: 1 });
  const names = manifest.inputs.map((i) => i.name);
  const healthy = (wiggle = 0) => Float64Array.from(names, (_, i) => (1 + i) * (1 + 0.02 * Math.sin(wiggle + i)));
  return { artifact, manifest, names, healthy };
}

function commissioned() {
  const s = setup();
  const model = new BearingHealthModel(s.manifest, s.artifact);
  for (let t = 0; t <= 70; t += 10) model.scoreAt(s.healthy(t), t * 1000);
  return { ...s, model };
}

describe('CommissioningBuffer', () => {
  it('learns the median and a MAD scale that one outlier does not move', () => {
    const buf = new CommissioningBuffer(8, 1);
    for (const v of [1, 1.1, 0.9, 1.05, 0.95, 1000]) buf.add([v]);
    const b = buf.fit(0.01);
    expect(Math.exp(b.median[0]!)).toBeCloseTo(Math.sqrt(1.05), 1);
    expect(b.scale[0]!).toBeLessThan(0.2);
  });

  it('floors the scale when commissioning windows are identical', () => {
    const buf = new CommissioningBuffer(8, 1);
    for (let i = 0; i < 5; i++) buf.add([2]);
    expect(buf.fit(0.2).scale[0]).toBe(0.2);
  });
});

describe('BearingHealthModel', () => {
  it('stays in commissioning for the configured period and answers unknown', () => {
    const { healthy, manifest, artifact } = setup();
    const m = new BearingHealthModel(manifest, artifact);
    for (let t = 0; t <= 60; t += 10) expect(m.scoreAt(healthy(t), t * 1000).decision).toBe('unknown');
    expect(m.currentPhase).toBe('commissioning');
    expect(m.scoreAt(healthy(70), 70_000).decision).toBe('normal');
    expect(m.currentPhase).toBe('monitoring');
  });

  it('scores healthy windows near zero and a 5x kurtosis far above the threshold', () => {
    const { model, healthy, names } = commissioned();
    expect(model.scoreAt(healthy(3), 80_000).score).toBeLessThan(1);
    const bad = healthy(3);
    bad[names.indexOf('de.kurtosis')]! *= 5;
    const r = model.scoreAt(bad, 90_000);
    expect(r.score).toBeGreaterThan(5);
    expect(r.reasons[0]!.feature).toBe('de.kurtosis');
    expect(r.reasons[0]!.text).toMatch(/^kurtosis [45]\.\dx baseline$/);
  });

  it('lists an elevated defect line before a larger generic deviation', () => {
    const { model, healthy, names } = commissioned();
    const bad = healthy(3);
    bad[names.indexOf('de.rms')]! *= 20;
    bad[names.indexOf('de.env_bpfo')]! *= 5;
    const r = model.scoreAt(bad, 80_000);
    expect(r.reasons.map((x) => x.text)).toEqual([
      expect.stringMatching(/^envelope energy at BPFO [45]\.\dx baseline$/),
      expect.stringMatching(/^RMS (19|20|21)x baseline$/),
      expect.any(String),
    ]);
  });

  it('alerts only after k of n hot windows', () => {
    const { model, healthy, names } = commissioned();
    const bad = healthy(1);
    bad[names.indexOf('de.rms')]! *= 10;
    expect(model.scoreAt(bad, 80_000).decision).toBe('normal');
    expect(model.scoreAt(healthy(2), 90_000).decision).toBe('normal');
    expect(model.scoreAt(bad, 100_000).decision).toBe('alert');
    expect(model.alarmSince).toBe(100_000);
  });

  it('yields unknown without touching state on a NaN input', () => {
    const { model, healthy } = commissioned();
    const x = healthy(1);
    x[0] = Number.NaN;
    expect(model.scoreAt(x, 80_000).decision).toBe('unknown');
  });

  it('survives a restart through exported state', () => {
    const { model, healthy, manifest, artifact, names } = commissioned();
    const json = JSON.parse(JSON.stringify(model.exportState()));
    const restarted = new BearingHealthModel(manifest, artifact);
    restarted.importState(json);
    expect(restarted.currentPhase).toBe('monitoring');
    const bad = healthy(1);
    bad[names.indexOf('de.rms')]! *= 10;
    expect(restarted.scoreAt(bad, 80_000).score).toBeCloseTo(model.scoreAt(bad, 80_000).score, 12);
  });

  it('refuses a state learnt for other inputs', () => {
    const { model, manifest, artifact } = commissioned();
    const s = model.exportState();
    const other = new BearingHealthModel(manifest, artifact);
    expect(() => other.importState({ ...s, inputs: ['x'] })).toThrow(ModelLoadError);
  });
});

describe('PersistenceAlarm', () => {
  it('clears after n quiet windows and holds off re-raising', () => {
    const a = new PersistenceAlarm({ k: 2, n: 3, holdOffS: 100 });
    a.update(true, 0);
    expect(a.update(true, 10_000)).toBe(true);
    for (const t of [20_000, 30_000]) expect(a.update(false, t)).toBe(true);
    expect(a.update(false, 40_000)).toBe(false);
    a.update(true, 50_000);
    expect(a.update(true, 60_000)).toBe(false);
    expect(a.update(true, 140_000)).toBe(true);
  });
});

describe('artifact and manifest', () => {
  it('round-trips the artifact and passes its own self-test vectors', () => {
    const { artifact, manifest } = setup();
    const bytes = serializeArtifact(artifact);
    expect(parseArtifact(bytes)).toEqual(artifact);
    expect(manifest.selfTest.length).toBeGreaterThan(2);
    expect(selfTestBearingHealth(manifest, bytes)).toEqual({ passed: true, failures: [] });
    const fresh = loadBearingHealth(manifest, bytes);
    const v = manifest.selfTest[1]!;
    expect(fresh.score(Float64Array.from(v.inputs)).score).toBeCloseTo(v.expectedScore, 9);
  });

  it('fails the self-test when a vector is tampered with', () => {
    const { artifact, manifest } = setup();
    manifest.selfTest[0]!.expectedScore = 3;
    expect(selfTestBearingHealth(manifest, serializeArtifact(artifact)).passed).toBe(false);
  });

  it('rejects an artifact with a bad alarm config, naming the field', () => {
    const { artifact } = setup();
    const bytes = serializeArtifact({ ...artifact, alarm: { k: 4, n: 3, holdOffS: 0 } });
    expect(() => parseArtifact(bytes)).toThrow(ModelLoadError);
  });
});

describe('reason text', () => {
  it('speaks in ratios to baseline', () => {
    expect(formatRatio(3.14)).toBe('3.1x');
    expect(formatRatio(12.4)).toBe('12x');
    expect(reasonText('envelope energy at BPFO', 10, 2)).toBe('envelope energy at BPFO 5.0x baseline');
  });
});
