import { ModelRuntime } from '@millwright/proto';
import type { DatasetRow } from '../retraining/domain.js';
import { fitLogistic, logisticScore, referenceOf, type TrainingSet } from './fit.js';
import type { Fitted, TrainingJob } from './ports.js';
import { dedupe } from './snapshot.js';

export interface LogisticOptions {
  labelWeight: number;
  iterations: number;
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

/**
 * Feature-vector models: logistic regression on the rows' features in the base's input names, with
 * three self-test vectors and training reference histograms. The artifact is always `logistic`.
 */
export async function trainLogistic(job: TrainingJob, opts: LogisticOptions): Promise<Fitted> {
  const { req, base, rows } = job;
  const names = base.inputs.map((f) => f.name);
  const data = trainingSet(rows, names, opts.labelWeight);
  if (data.x.length === 0) throw new Error(`snapshot ${req.snapshotId} has no usable rows (${rows.length} rows)`);
  await job.ports.progress(req.id, 0.3, `fitting on ${data.x.length} rows`);
  const fit = fitLogistic(data, { iterations: opts.iterations });
  const artifact = Buffer.from(
    `${JSON.stringify({ weights: fit.weights, intercept: fit.intercept, featureMeans: fit.featureMeans })}\n`,
  );
  const probes = [0, Math.floor(data.x.length / 2), data.x.length - 1].map((i) => data.x[i]!);
  return {
    artifact,
    manifest: {
      // Whatever the base's runtime: the example exports logistic regression on the same inputs.
      runtime: ModelRuntime.MODEL_RUNTIME_LOGISTIC,
      inputs: base.inputs,
      output: base.output,
      selfTest: probes.map((x) => ({ inputs: x, expectedScore: logisticScore(fit, x), tolerance: 1e-9 })),
      trainingMetrics: {
        rows: data.x.length,
        labelled_rows: rows.filter((r) => r.label).length,
        log_loss: fit.loss,
        snapshot_rows: job.snapshot.totalRows,
      },
      reference: names.map((n, j) =>
        referenceOf(
          n,
          data.x.map((x) => x[j]!),
        ),
      ),
    },
  };
}
