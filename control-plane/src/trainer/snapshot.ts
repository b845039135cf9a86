import { gunzipSync } from 'node:zlib';
import { sha256Hex } from '../retraining/canonical.js';
import type { DatasetRow, SnapshotManifest } from '../retraining/domain.js';
import type { TrainerPorts } from './ports.js';

/** The snapshot manifest or a part does not hash to what it claims. */
export class DatasetIntegrityError extends Error {
  constructor(
    readonly key: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`${key}: sha256 ${actual}, expected ${expected}`);
    this.name = 'DatasetIntegrityError';
  }
}

/** Reads a snapshot manifest and every object it lists, checking each sha256. */
export async function readSnapshot(
  ports: Pick<TrainerPorts, 'readObject'>,
  snapshotId: string,
): Promise<{ manifest: SnapshotManifest; rows: DatasetRow[] }> {
  const key = `snapshots/${snapshotId}.json`;
  const bytes = await ports.readObject(key);
  const actual = sha256Hex(bytes);
  if (actual !== snapshotId) throw new DatasetIntegrityError(key, snapshotId, actual);
  const manifest = JSON.parse(Buffer.from(bytes).toString('utf8')) as SnapshotManifest;
  const rows: DatasetRow[] = [];
  for (const o of manifest.objects) {
    const part = await ports.readObject(o.key);
    const sha = sha256Hex(part);
    if (sha !== o.sha256) throw new DatasetIntegrityError(o.key, o.sha256, sha);
    const lines = gunzipSync(part).toString('utf8').split('\n').filter(Boolean);
    if (lines.length !== o.rows) throw new Error(`${o.key}: ${lines.length} rows, manifest says ${o.rows}`);
    for (const l of lines) rows.push(JSON.parse(l) as DatasetRow);
  }
  return { manifest, rows };
}

/** One row per prediction: a window captured twice (by a rule, then again for its label) keeps the labelled row. */
export function dedupe(rows: readonly DatasetRow[]): DatasetRow[] {
  const best = new Map<string, DatasetRow>();
  for (const r of rows) {
    const prev = best.get(r.prediction_id);
    if (!prev || (!prev.label && r.label)) best.set(r.prediction_id, r);
  }
  return [...best.values()];
}
