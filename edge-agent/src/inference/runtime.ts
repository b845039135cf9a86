import type { ModelManifest, Reason, ScoreResult, SelfTestVector } from '../domain/model.js';

/**
 * A model loaded into memory and ready to score. Every runtime (built-in or ONNX) implements it.
 * `score` is synchronous so the hot path stays free of promises; ONNX prepares its session at load
 * and runs it through onnxruntime-node's synchronous native binding (see `onnx.ts`).
 */
export interface LoadedModel {
  readonly manifest: ModelManifest;
  /**
   * Scores one feature vector in manifest input order. `topK` bounds the reasons returned.
   * Throws only on programming errors; a NaN input yields decision 'unknown'. `tMs` is the data time
   * of the window, for stateful models (commissioning, persistence); stateless runtimes ignore it.
   */
  score(inputs: Float64Array, topK?: number, tMs?: number): ScoreResult;
  /**
   * Reasons on demand (operator asks "why?") for runtimes whose `score` skips them to stay fast:
   * ONNX computes reasons in `score` only for alerts. Optional so loaders written before it still compile.
   */
  explain?(inputs: Float64Array, topK?: number): Reason[];
  /**
   * Runs self-test vectors without changing the model's state. Stateful runtimes (commissioning,
   * persistence) implement it so test vectors never enter a machine's baseline; `runSelfTest`
   * uses it when present and scores through `score` otherwise.
   */
  selfTest?(vectors: readonly SelfTestVector[]): SelfTestOutcome;
  /**
   * Set by models that compute their own features from raw (cleaned) windows, e.g. the bearing
   * pack's envelope indicators: the pipeline then collects `length` samples of each channel every
   * `everyMs` and calls `scoreWindows` instead of `score`.
   */
  readonly windowInputs?: WindowInputs;
  scoreWindows?(windows: readonly Float64Array[], tMs: number, topK?: number): ScoreResult;
  dispose(): void;
}

export interface WindowInputs {
  /** Channel names, absolute or relative to the asset (`vib_h` -> `<asset>.vib_h`). */
  channels: readonly string[];
  length: number;
  everyMs: number;
}

export interface SelfTestOutcome {
  passed: boolean;
  /** One line per failing vector: index, expected, got, tolerance. */
  failures: string[];
}

/** Reasons returned when the caller gives no `topK`. */
export const DEFAULT_TOP_K = 3;
