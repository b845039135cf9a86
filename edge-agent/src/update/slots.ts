import type { Decision } from '../domain/model.js';
import type { LoadedModel } from '../inference/runtime.js';

/** Receives every inference outcome (the watchdog, while one is armed). Runs on the hot path: no I/O. */
export interface InferenceObserver {
  observe(version: string, latencyUs: number, decision: Decision, error: unknown, score: number | undefined): void;
}

/**
 * The models the inference pipeline scores with. Switching is a pointer swap done between two
 * synchronous `score` calls, so no prediction is lost or served by a half-loaded model: call
 * `active()` once per inference and score with what it returns.
 */
export class ModelSlots {
  private current: LoadedModel | undefined;
  private fallback: LoadedModel | undefined;
  private candidate: LoadedModel | undefined;
  private observer: InferenceObserver | undefined;

  /** The model to score with now; undefined until one is installed. */
  active(): LoadedModel | undefined {
    return this.current;
  }

  /** The version that ran before the last switch, still loaded for an instant fallback. */
  previous(): LoadedModel | undefined {
    return this.fallback;
  }

  /** A candidate to score beside the active model without acting on it (desired state `shadow`). */
  shadow(): LoadedModel | undefined {
    return this.candidate;
  }

  activeVersion(): string {
    return this.current?.manifest.version ?? '';
  }

  /**
   * Per-inference hook: the pipeline reports the version that scored, the latency, the decision,
   * the error when `score` threw, and the raw score when the inputs were all finite (so a NaN
   * from finite inputs counts as a model fault). Allocation-free unless it triggers a rollback.
   */
  observe(version: string, latencyUs: number, decision: Decision, error?: unknown, score?: number): void {
    this.observer?.observe(version, latencyUs, decision, error, score);
  }

  /** @internal Used by the update manager. */
  setObserver(observer: InferenceObserver | undefined): void {
    this.observer = observer;
  }

  /** @internal Makes `next` active and the active one previous; returns the displaced previous to dispose. */
  promote(next: LoadedModel): LoadedModel | undefined {
    const displaced = this.fallback;
    this.fallback = this.current;
    this.current = next;
    return displaced;
  }

  /** @internal Swaps back to the previous model; returns the model taken out of service. */
  revert(): LoadedModel | undefined {
    if (!this.fallback) return undefined;
    const bad = this.current;
    this.current = this.fallback;
    this.fallback = undefined;
    return bad;
  }

  /** @internal Takes the fallback out (it may no longer be trusted); returns it to dispose. */
  dropPrevious(): LoadedModel | undefined {
    const old = this.fallback;
    this.fallback = undefined;
    return old;
  }

  /** @internal Replaces the shadow candidate; returns the old one to dispose. */
  setShadow(model: LoadedModel | undefined): LoadedModel | undefined {
    const old = this.candidate;
    this.candidate = model;
    return old;
  }

  /** @internal Takes every model out of service (agent stop); returns them to dispose. */
  clear(): LoadedModel[] {
    const all = [this.current, this.fallback, this.candidate].filter((m): m is LoadedModel => m !== undefined);
    this.current = this.fallback = this.candidate = undefined;
    return all;
  }
}
