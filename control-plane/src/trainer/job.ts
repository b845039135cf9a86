import { type ArtifactManifest, ModelRuntime, type RetrainingRequest } from '@millwright/proto';
import { type BearingOptions, trainBearing } from './bearing.js';
import { type LogisticOptions, trainLogistic } from './logistic.js';
import type { Fitted, TrainerPorts, TrainingJob } from './ports.js';
import { readSnapshot } from './snapshot.js';

export type TrainOptions = LogisticOptions & { bearing: BearingOptions };

/** The new version's name: the base's with a suffix naming the request. */
export function versionFor(req: RetrainingRequest): string {
  return `${req.baseVersion}-rt${req.id.replace(/[^A-Za-z0-9]/g, '').slice(0, 8)}`;
}

/**
 * Trains one claimed request: snapshot -> rows -> a fit chosen by the base version's runtime
 * (`bearing_health`: the pack's training tooling on the captured raw windows; anything else:
 * logistic regression on the captured features) -> manifest with lineage and self-test vectors ->
 * UploadVersion. Returns the registered version.
 */
export async function train(ports: TrainerPorts, req: RetrainingRequest, opts: TrainOptions): Promise<string> {
  await ports.progress(req.id, 0.05, 'reading snapshot');
  const { manifest: snapshot, rows } = await readSnapshot(ports, req.snapshotId);
  const base = await ports.baseManifest(req.model, req.baseVersion);
  const job: TrainingJob = { ports, req, version: versionFor(req), base, snapshot, rows };
  const fitted = await fitFor(job, opts);
  const manifest: ArtifactManifest = {
    ...base,
    ...fitted.manifest,
    version: job.version,
    lineage: {
      parentVersion: req.baseVersion,
      datasetSnapshotId: req.snapshotId,
      retrainingRequestId: req.id,
      trainingRunUrl: '',
    },
    sequence: 0,
    description: `retrained from ${req.baseVersion} on snapshot ${req.snapshotId.slice(0, 12)} (${req.trigger}: ${req.reason})`,
  };
  await ports.progress(req.id, 0.8, `registering ${job.version}`);
  await ports.upload(manifest, fitted.artifact);
  return job.version;
}

function fitFor(job: TrainingJob, opts: TrainOptions): Promise<Fitted> {
  if (job.base.runtime === ModelRuntime.MODEL_RUNTIME_BEARING_HEALTH) return trainBearing(job, opts.bearing);
  // Feature-vector models of any runtime are retrained as logistic regression on the same inputs.
  return trainLogistic(job, opts);
}
