import type { Decision } from '../domain/model.js';
import type { InferenceObserver } from './slots.js';

export interface WatchdogBounds {
  /** How long after the switch the new version is watched. */
  periodMs: number;
  /** p99 latency bound in µs; 0 = unbounded. */
  maxLatencyUs: number;
  /** Fraction of decisions that are alerts; 0 = unbounded. */
  maxAlertRate: number;
  /** Rates and percentiles are judged only after this many inferences. */
  minSamples: number;
}

/**
 * Watches one freshly switched version for its watchdog period and calls `onTrip` once, on the
 * first fault: a throw, a non-finite score from finite inputs, p99 latency over the bound, or an
 * alert rate over the bound. p99 over the bound is exactly "more than 1% of samples over it", so
 * counting suffices and `observe` stays O(1) without allocation.
 */
export class Watchdog implements InferenceObserver {
  private count = 0;
  private slow = 0;
  private alerts = 0;
  private finished = false;

  constructor(
    readonly version: string,
    private readonly bounds: WatchdogBounds,
    private readonly armedAtMs: number,
    private readonly deps: { now: () => number; onTrip: (reason: string) => void; onPass: () => void },
  ) {}

  get done(): boolean {
    return this.finished;
  }

  observe(version: string, latencyUs: number, decision: Decision, error: unknown, score: number | undefined): void {
    if (this.finished || version !== this.version) return;
    if (this.expire(this.deps.now())) return;
    const fault = this.record(latencyUs, decision, error, score);
    if (fault) this.trip(fault);
  }

  /** Ends the watch when its period is over (checked on every observation). */
  expire(nowMs: number): boolean {
    if (this.finished) return true;
    if (nowMs - this.armedAtMs < this.bounds.periodMs) return false;
    this.finished = true;
    this.deps.onPass();
    return true;
  }

  /** Stops watching without a verdict (a newer switch or shutdown). */
  cancel(): void {
    this.finished = true;
  }

  /** Counts one inference; returns why the version is faulty, if it now is. */
  private record(latencyUs: number, decision: Decision, error: unknown, score: number | undefined): string | undefined {
    if (error !== undefined) return `model threw: ${error instanceof Error ? error.message : String(error)}`;
    if (score !== undefined && !Number.isFinite(score)) return `model returned a non-finite score (${score})`;
    this.count++;
    if (this.bounds.maxLatencyUs > 0 && latencyUs > this.bounds.maxLatencyUs) this.slow++;
    if (decision === 'alert') this.alerts++;
    return this.count >= this.bounds.minSamples ? this.judge() : undefined;
  }

  private judge(): string | undefined {
    const { maxLatencyUs, maxAlertRate } = this.bounds;
    if (maxLatencyUs > 0 && this.slow > this.count * 0.01) {
      return `latency p99 above ${maxLatencyUs} µs (${this.slow} of ${this.count} inferences slower)`;
    }
    const rate = this.alerts / this.count;
    if (maxAlertRate > 0 && rate > maxAlertRate) {
      return `alert rate ${rate.toFixed(3)} above bound ${maxAlertRate} (${this.alerts} of ${this.count})`;
    }
    return undefined;
  }

  private trip(reason: string): void {
    this.finished = true;
    this.deps.onTrip(reason);
  }
}
