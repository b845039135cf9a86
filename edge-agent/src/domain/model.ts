/** Plain types for models and predictions; adapters map proto messages to and from these. */

export type Runtime = 'linear' | 'logistic' | 'xgboost_json' | 'mahalanobis' | 'bearing_health' | 'onnx';

export interface FeatureSpec {
  name: string;
  unit: string;
}

export interface SelfTestVector {
  inputs: number[];
  expectedScore: number;
  tolerance: number;
}

export interface OutputSpec {
  meaning: string;
  /** score >= alertThreshold => alert. */
  alertThreshold: number;
  uncertainLow: number;
  uncertainHigh: number;
  /** ONNX only: output tensor holding the score. */
  onnxOutput?: string;
}

export interface FeatureReference {
  feature: string;
  binEdges: number[];
  binFractions: number[];
  mean: number;
  std: number;
}

export interface ModelManifest {
  model: string;
  version: string;
  runtime: Runtime;
  inputs: FeatureSpec[];
  output: OutputSpec;
  selfTest: SelfTestVector[];
  trainingMetrics: Record<string, number>;
  lineage: {
    parentVersion?: string;
    datasetSnapshotId?: string;
    trainingRunUrl?: string;
    retrainingRequestId?: string;
  };
  reference: FeatureReference[];
  /** Monotonic per model; anti-rollback compares it. */
  sequence: number;
  description?: string;
}

export interface Reason {
  feature: string;
  value: number;
  unit: string;
  /** Signed contribution to the score. */
  contribution: number;
  /** Healthy baseline where the model knows one; NaN otherwise. */
  baseline: number;
  /** Technician-readable text, e.g. "kurtosis 3.1x baseline". */
  text: string;
}

export type Decision = 'normal' | 'alert' | 'unknown';

export interface ScoreResult {
  score: number;
  decision: Decision;
  /** Top contributing features, largest |contribution| first. */
  reasons: Reason[];
}
