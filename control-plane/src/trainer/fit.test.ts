import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../retraining/canonical.js';
import { fitLogistic, logisticScore, referenceOf } from './fit.js';
import type { TrainerPorts } from './ports.js';
import { DatasetIntegrityError, dedupe, readSnapshot } from './snapshot.js';

describe('fitLogistic', () => {
  it('separates two clusters on raw (unstandardised) inputs', () => {
    const x: number[][] = [];
    const y: number[] = [];
    for (let i = 0; i < 50; i++) {
      x.push([100 + (i % 5), 0.01 * i]);
      y.push(0);
      x.push([120 + (i % 5), 0.01 * i]);
      y.push(1);
    }
    const fit = fitLogistic({ x, y, w: y.map(() => 1) }, { iterations: 800 });
    expect(logisticScore(fit, [101, 0.2])).toBeLessThan(0.1);
    expect(logisticScore(fit, [122, 0.2])).toBeGreaterThan(0.9);
    expect(fit.weights[0]).toBeGreaterThan(0);
  });
});

describe('referenceOf', () => {
  it('covers every training value with fractions summing to 1', () => {
    const r = referenceOf('f', [1, 2, 2, 3, 4], 4);
    expect(r.binEdges[0]).toBeLessThan(1);
    expect(r.binEdges.at(-1)).toBeGreaterThan(4);
    expect(r.binFractions.reduce((s, f) => s + f, 0)).toBeCloseTo(1, 12);
    expect(r.mean).toBeCloseTo(2.4, 12);
  });

  it('puts about the same share of training values in every bin and leaves none empty', () => {
    const values = Array.from({ length: 400 }, (_, i) => (i / 400) ** 3);
    const r = referenceOf('f', values, 10);
    expect(r.binFractions).toHaveLength(10);
    for (const f of r.binFractions) expect(f).toBeCloseTo(0.1, 2);
    expect([...r.binEdges].sort((a, b) => a - b)).toEqual(r.binEdges);
  });
});

describe('readSnapshot', () => {
  const part = gzipSync(Buffer.from('{"prediction_id":"p1"}\n'));
  const manifest = Buffer.from(
    JSON.stringify({ objects: [{ key: 'k', sha256: sha256Hex(part), rows: 1, sizeBytes: part.length }] }),
  );
  const ports = (objects: Record<string, Uint8Array>) =>
    ({ readObject: async (key: string) => objects[key]! }) as unknown as TrainerPorts;

  it('reads the parts a verified manifest lists', async () => {
    const id = sha256Hex(manifest);
    const { rows } = await readSnapshot(ports({ [`snapshots/${id}.json`]: manifest, k: part }), id);
    expect(rows.map((r) => r.prediction_id)).toEqual(['p1']);
  });

  it('refuses a manifest or a part whose sha256 does not match', async () => {
    const id = sha256Hex(manifest);
    await expect(
      readSnapshot(ports({ [`snapshots/${id}.json`]: manifest, k: gzipSync(Buffer.from('x\n')) }), id),
    ).rejects.toBeInstanceOf(DatasetIntegrityError);
    await expect(readSnapshot(ports({ 'snapshots/abc.json': manifest }), 'abc')).rejects.toBeInstanceOf(
      DatasetIntegrityError,
    );
  });
});

describe('dedupe', () => {
  it('keeps the labelled row of a window captured twice', () => {
    const rows = [
      { prediction_id: 'p', label: null },
      { prediction_id: 'p', label: 'false_alarm' },
      { prediction_id: 'q', label: null },
    ] as never[];
    expect(dedupe(rows).map((r: { label: string | null }) => r.label)).toEqual(['false_alarm', null]);
  });
});
