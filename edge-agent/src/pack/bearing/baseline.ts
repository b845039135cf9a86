import { medianInPlace } from './select.js';

/** Healthy baseline in the log domain: per-indicator median and robust scale. */
export interface RobustBaseline {
  median: number[];
  scale: number[];
  /** Baseline of the alarm indicators (see alarm-score.ts), when they differ from the inputs. */
  alarm?: RobustBaseline;
}

/** MAD to standard deviation for Gaussian data. */
const MAD_TO_SIGMA = 1.4826;

/** Smallest positive value an indicator is clamped to before taking logs (a silent band). */
export const LOG_FLOOR = 1e-30;

export function safeLog(x: number): number {
  return Math.log(Math.max(x, LOG_FLOOR));
}

/**
 * Log-indicator windows collected during commissioning, in one preallocated block.
 * Logs because indicators are positive and move multiplicatively ("3x baseline").
 */
export class CommissioningBuffer {
  readonly capacity: number;
  readonly dims: number;
  private readonly data: Float64Array;
  private readonly column: Float64Array;
  private filled = 0;

  constructor(capacity: number, dims: number) {
    this.capacity = capacity;
    this.dims = dims;
    this.data = new Float64Array(capacity * dims);
    this.column = new Float64Array(capacity);
  }

  get count(): number {
    return this.filled;
  }

  get full(): boolean {
    return this.filled >= this.capacity;
  }

  /** Appends one window of raw indicators (logged here). Ignored when full. */
  add(raw: ArrayLike<number>): void {
    if (this.full) return;
    const base = this.filled * this.dims;
    for (let i = 0; i < this.dims; i++) this.data[base + i] = safeLog(raw[i]!);
    this.filled++;
  }

  /**
   * Median and MAD-based scale per indicator. `minScale` floors the scale: a handful of
   * commissioning windows can sit unusually close together and would make every later window look
   * abnormal.
   */
  fit(minScale: number): RobustBaseline {
    const median: number[] = [];
    const scale: number[] = [];
    for (let d = 0; d < this.dims; d++) {
      const m = this.columnMedian(d, 0);
      median.push(m);
      scale.push(Math.max(minScale, MAD_TO_SIGMA * this.columnMedian(d, m, true)));
    }
    return { median, scale };
  }

  private columnMedian(d: number, centre: number, absolute = false): number {
    for (let i = 0; i < this.filled; i++) {
      const v = this.data[i * this.dims + d]! - centre;
      this.column[i] = absolute ? Math.abs(v) : v;
    }
    return medianInPlace(this.column, 0, this.filled) + (absolute ? 0 : centre);
  }

  /** Raw log rows, for state export. */
  rows(): number[][] {
    const out: number[][] = [];
    for (let i = 0; i < this.filled; i++) out.push(Array.from(this.data.subarray(i * this.dims, (i + 1) * this.dims)));
    return out;
  }

  /** Restores log rows exported by `rows()`. */
  restore(rows: readonly (readonly number[])[]): void {
    this.filled = 0;
    for (const row of rows.slice(0, this.capacity)) {
      this.data.set(row, this.filled * this.dims);
      this.filled++;
    }
  }
}
