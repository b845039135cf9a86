import type { ModelManifest, ScoreResult } from '../domain/model.js';

/**
 * A model loaded into memory and ready to score. Every runtime (built-in or ONNX) implements it.
 * `score` is synchronous so the hot path stays free of promises; ONNX prepares its session at load.
 */
export interface LoadedModel {
  readonly manifest: ModelManifest;
  /**
   * Scores one feature vector in manifest input order. `topK` bounds the reasons returned.
   * Throws only on programming errors; a NaN input yields decision 'unknown'.
   */
  score(inputs: Float64Array, topK?: number): ScoreResult;
  dispose(): void;
}

export interface SelfTestOutcome {
  passed: boolean;
  /** One line per failing vector: index, expected, got, tolerance. */
  failures: string[];
}
