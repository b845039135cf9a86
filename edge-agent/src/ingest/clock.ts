/** Injected time for sources: tests drive a {@link VirtualClock}, production uses {@link systemClock}. */

/** Cancels a scheduled callback; calling it after the callback ran is harmless. */
export type Cancel = () => void;

/** Wall time plus a one-shot scheduler. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Runs `fn` once after `delayMs` (clamped to >= 0). */
  schedule(delayMs: number, fn: () => void): Cancel;
}

/** The real clock: `Date.now()` and `setTimeout`. */
export const systemClock: Clock = {
  now: () => Date.now(),
  schedule(delayMs, fn) {
    const t = setTimeout(fn, Math.max(0, delayMs));
    return () => clearTimeout(t);
  },
};

/**
 * A clock running `factor` times faster than `base` from the moment it is made (demos: a
 * simulator or replay at 10x real time). Timestamps stay continuous.
 */
export function acceleratedClock(factor: number, base: Clock = systemClock): Clock {
  if (!(factor > 0)) throw new RangeError(`clock acceleration must be > 0, got ${factor}`);
  const origin = base.now();
  return {
    now: () => origin + (base.now() - origin) * factor,
    schedule: (delayMs, fn) => base.schedule(delayMs / factor, fn),
  };
}

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * Deterministic clock for tests: time moves only through {@link VirtualClock.advance}.
 * Timers due at the same instant run in the order they were scheduled.
 */
export class VirtualClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: Timer[] = [];

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  schedule(delayMs: number, fn: () => void): Cancel {
    const timer: Timer = { at: this.t + Math.max(0, delayMs), seq: this.seq++, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((x) => x !== timer);
    };
  }

  /** Number of timers still pending. */
  pending(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, running every timer that falls due (including ones scheduled on the way). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (let next = this.takeDue(end); next; next = this.takeDue(end)) {
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }

  /**
   * Like {@link VirtualClock.advance}, but lets pending promise work (file reads, awaited sleeps) run
   * between timers, for sources whose loops await the clock.
   */
  async advanceAsync(ms: number): Promise<void> {
    const end = this.t + ms;
    await settle();
    for (let next = this.takeDue(end); next; next = this.takeDue(end)) {
      this.t = next.at;
      next.fn();
      await settle();
    }
    this.t = end;
  }

  private takeDue(end: number): Timer | undefined {
    let best: Timer | undefined;
    for (const x of this.timers) {
      if (x.at <= end && (!best || x.at < best.at || (x.at === best.at && x.seq < best.seq))) best = x;
    }
    if (best) this.timers = this.timers.filter((x) => x !== best);
    return best;
  }
}

/** Lets queued promise callbacks and I/O completions run (a macrotask turn, not a timer). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Resolves after `ms` on `clock`; rejects with the signal's reason when aborted. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      cancel();
      reject(signal?.reason);
    };
    const cancel = clock.schedule(ms, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
