import { z } from 'zod';
import { type Clock, sleep } from './clock.js';

/**
 * Replay pace: a speed factor (1 = real time, 60 = a minute per second) or `'asap'` (as fast as
 * the sink takes it). @default 1
 */
export const PaceSchema = z.union([z.literal('asap'), z.number().positive()]).default(1);

/**
 * Timestamps of replayed samples: `'original'` keeps the file's, `'replay'` rebases them to the
 * clock at which they are due (gaps between records compressed by the speed factor, samples inside
 * a block keep their rate). @default 'original'
 */
export const TimestampModeSchema = z.enum(['original', 'replay']).default('original');

/** Schedules records by their timestamps against the injected clock. */
export class Pacer {
  private origin: { fileMs: number; clockMs: number } | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly pace: number | 'asap',
    private readonly mode: 'original' | 'replay',
  ) {}

  /** Waits until the record at `fileMs` is due; returns the timestamp to emit it with. */
  async due(fileMs: number, signal: AbortSignal): Promise<number> {
    const origin = this.originFor(fileMs);
    const speed = this.pace === 'asap' ? 1 : this.pace;
    const target = origin.clockMs + (fileMs - origin.fileMs) / speed;
    if (this.pace !== 'asap') {
      const delay = target - this.clock.now();
      if (delay > 0) await sleep(this.clock, delay, signal);
    }
    return this.mode === 'original' ? fileMs : target;
  }

  private originFor(fileMs: number): { fileMs: number; clockMs: number } {
    this.origin ??= { fileMs, clockMs: this.clock.now() };
    return this.origin;
  }
}
