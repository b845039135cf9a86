import type { ArtifactManifest, RetrainingRequest } from '@millwright/proto';
import type { DatasetRow, SnapshotManifest } from '../retraining/domain.js';

/** What the trainer needs from the control plane and S3 (gRPC and S3 in main.ts). */
export interface TrainerPorts {
  progress(id: string, progress: number, note: string): Promise<void>;
  baseManifest(model: string, version: string): Promise<ArtifactManifest>;
  /** The version's artifact bytes, checked against the sha256 the registry holds. */
  baseArtifact(model: string, version: string): Promise<Uint8Array>;
  readObject(key: string): Promise<Uint8Array>;
  upload(manifest: ArtifactManifest, artifact: Uint8Array): Promise<void>;
}

/** One claimed request with its verified snapshot and base manifest: what each model kind trains from. */
export interface TrainingJob {
  ports: TrainerPorts;
  req: RetrainingRequest;
  /** The new version's name. */
  version: string;
  base: ArtifactManifest;
  snapshot: SnapshotManifest;
  rows: DatasetRow[];
}

/**
 * A model kind's result: the new version's manifest parts that depend on the fit (runtime, inputs,
 * output, self-test vectors, metrics, reference) and its artifact bytes; job.ts adds identity and lineage.
 */
export interface Fitted {
  manifest: Pick<ArtifactManifest, 'runtime' | 'inputs' | 'output' | 'selfTest' | 'trainingMetrics' | 'reference'>;
  artifact: Uint8Array;
}
