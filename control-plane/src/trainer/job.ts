import { gunzipSync } from 'node:zlib';
import { type ArtifactManifest, ModelRuntime, type RetrainingRequest } from '@millwright/proto';
import { sha256Hex } from '../retraining/canonical.js';
import type { DatasetRow, SnapshotManifest } from '../retraining/domain.js';
import { fitLogistic, logisticScore, referenceOf, type TrainingSet } from './fit.js';

/** What the trainer needs from the control plane and S3 (gRPC and S3 in main.ts). */
export interface TrainerPorts {
  progress(id: string, progress: number, note: string): Promise<void>;
  baseManifest(model: string, version: string): Promise<ArtifactManifest>;
  readObject(key: string): Promise<Uint8Array>;
  upload(manifest: ArtifactManifest, artifact: Uint8Array): Promise<void>;
}

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
  ports: TrainerPorts,
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

/** Operator labels win; otherwise the base model's decision labels the row (weight 1). */
export function trainingSet(rows: readonly DatasetRow[], names: readonly string[], labelWeight: number): TrainingSet {
  const set: TrainingSet = { x: [], y: [], w: [] };
  for (const r of dedupe(rows)) {
    const x = names.map((n) => r.features[n]);
    if (!x.every((v) => typeof v === 'number' && Number.isFinite(v))) continue;
    set.x.push(x as number[]);
    if (r.label) {
      set.y.push(r.label === 'confirmed_failure' ? 1 : 0);
      set.w.push(labelWeight);
    } else {
      set.y.push(r.decision === 'alert' ? 1 : 0);
      set.w.push(1);
    }
  }
  return set;
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

/** The new version's name: the base's with a suffix naming the request. */
export function versionFor(req: RetrainingRequest): string {
  return `${req.baseVersion}-rt${req.id.replace(/[^A-Za-z0-9]/g, '').slice(0, 8)}`;
}

/**
 * Trains one claimed request: snapshot -> rows -> logistic fit -> manifest with lineage, self-test
 * vectors and training reference histograms -> UploadVersion. Returns the registered version.
 */
export async function train(
  ports: TrainerPorts,
  req: RetrainingRequest,
  opts: { labelWeight: number; iterations: number },
): Promise<string> {
  await ports.progress(req.id, 0.05, 'reading snapshot');
  const { manifest: snap, rows } = await readSnapshot(ports, req.snapshotId);
  const base = await ports.baseManifest(req.model, req.baseVersion);
  const names = base.inputs.map((f) => f.name);
  const data = trainingSet(rows, names, opts.labelWeight);
  if (data.x.length === 0) throw new Error(`snapshot ${req.snapshotId} has no usable rows (${rows.length} rows)`);
  await ports.progress(req.id, 0.3, `fitting on ${data.x.length} rows`);
  const fit = fitLogistic(data, { iterations: opts.iterations });
  const artifact = Buffer.from(
    `${JSON.stringify({ weights: fit.weights, intercept: fit.intercept, featureMeans: fit.featureMeans })}\n`,
  );
  const version = versionFor(req);
  const probes = [0, Math.floor(data.x.length / 2), data.x.length - 1].map((i) => data.x[i]!);
  const manifest: ArtifactManifest = {
    ...base,
    version,
    // The example trainer always exports logistic regression, whatever the base's runtime.
    runtime: ModelRuntime.MODEL_RUNTIME_LOGISTIC,
    selfTest: probes.map((x) => ({ inputs: x, expectedScore: logisticScore(fit, x), tolerance: 1e-9 })),
    trainingMetrics: {
      rows: data.x.length,
      labelled_rows: rows.filter((r) => r.label).length,
      log_loss: fit.loss,
      snapshot_rows: snap.totalRows,
    },
    lineage: {
      parentVersion: req.baseVersion,
      datasetSnapshotId: req.snapshotId,
      retrainingRequestId: req.id,
      trainingRunUrl: '',
    },
    reference: names.map((n, j) =>
      referenceOf(
        n,
        data.x.map((x) => x[j]!),
      ),
    ),
    sequence: 0,
    description: `retrained from ${req.baseVersion} on snapshot ${req.snapshotId.slice(0, 12)} (${req.trigger}: ${req.reason})`,
  };
  await ports.progress(req.id, 0.8, `registering ${version}`);
  await ports.upload(manifest, artifact);
  return version;
}
