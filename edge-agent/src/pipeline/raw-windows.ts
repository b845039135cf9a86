import type { CleanedBlock } from '../cleaning/channel-cleaner.js';
import { EXCLUDED_FLAGS } from '../cleaning/channel-cleaner.js';

/**
 * Collects one synchronized raw window per channel (`length` samples starting at the first sample at
 * or after the window's start time), every `everyMs` of data time, for models that compute their
 * own features (the bearing pack's envelope indicators). Points cleaning flagged as NaN, out of
 * range or spikes are held at the last good value, so an electrical spike cannot fake an impact;
 * raw values in the buffer and upstream are untouched. A channel that runs ahead of the others keeps
 * its extra samples (up to one window) for the next window.
 */
export class RawWindowCollector {
  private readonly index: Map<string, number>;
  private readonly windows: Float64Array[];
  private readonly fill: Int32Array;
  private readonly last: Float64Array;
  /** Samples that arrived while a channel's window was full and others' were not. */
  private readonly carry: Float64Array[];
  private readonly carryLen: Int32Array;
  private readonly carryT0: Float64Array;
  private readonly carryRate: Float64Array;
  private startMs = Number.NaN;
  private nextMs = Number.NEGATIVE_INFINITY;

  constructor(
    channels: readonly string[],
    private readonly length: number,
    private readonly everyMs: number,
    private readonly onWindow: (windows: readonly Float64Array[], startMs: number) => void,
  ) {
    this.index = new Map(channels.map((c, i) => [c, i]));
    this.windows = channels.map(() => new Float64Array(length));
    this.carry = channels.map(() => new Float64Array(length));
    this.fill = new Int32Array(channels.length).fill(-1);
    this.last = new Float64Array(channels.length);
    this.carryLen = new Int32Array(channels.length);
    this.carryT0 = new Float64Array(channels.length);
    this.carryRate = new Float64Array(channels.length);
  }

  push(b: CleanedBlock): void {
    const c = this.index.get(b.channel);
    if (c === undefined) return;
    this.take(c, b.values, b.flags, b.length, b.t0Ms, b.sampleRateHz);
    if (this.fill.every((f) => f === this.length)) this.emit();
  }

  private take(
    c: number,
    values: ArrayLike<number>,
    flags: Uint8Array | undefined,
    n: number,
    t0Ms: number,
    rate: number,
  ): void {
    const dtMs = 1000 / rate;
    let i = 0;
    if (this.fill[c]! < 0) {
      if (t0Ms + n * dtMs <= this.nextMs) return;
      // Nearest sample: timestamps carry float error, a window must not start one sample late.
      i = Math.max(0, Math.round((this.nextMs - t0Ms) / dtMs));
      if (Number.isNaN(this.startMs)) this.startMs = t0Ms + i * dtMs;
      this.fill[c] = 0;
    }
    const w = this.windows[c]!;
    let f = this.fill[c]!;
    let last = this.last[c]!;
    for (; i < n && f < this.length; i++) {
      if (flags === undefined || (flags[i]! & EXCLUDED_FLAGS) === 0) last = values[i]!;
      w[f++] = last;
    }
    this.fill[c] = f;
    this.last[c] = last;
    if (i < n) this.keep(c, values, flags, i, n, t0Ms + i * dtMs, rate);
  }

  private keep(
    c: number,
    values: ArrayLike<number>,
    flags: Uint8Array | undefined,
    from: number,
    n: number,
    t0Ms: number,
    rate: number,
  ): void {
    const k = this.carry[c]!;
    if (this.carryLen[c] === 0) {
      this.carryT0[c] = t0Ms;
      this.carryRate[c] = rate;
    }
    let len = this.carryLen[c]!;
    let last = this.last[c]!;
    for (let i = from; i < n && len < this.length; i++) {
      if (flags === undefined || (flags[i]! & EXCLUDED_FLAGS) === 0) last = values[i]!;
      k[len++] = last;
    }
    this.carryLen[c] = len;
  }

  private emit(): void {
    const start = this.startMs;
    // The window is handed out once, even when the consumer throws: left full, it would be
    // handed out again on every later block.
    this.fill.fill(-1);
    this.startMs = Number.NaN;
    this.nextMs = start + this.everyMs;
    try {
      this.onWindow(this.windows, start);
    } finally {
      this.refeedCarry();
    }
  }

  private refeedCarry(): void {
    for (let c = 0; c < this.carry.length; c++) {
      const len = this.carryLen[c]!;
      if (len === 0) continue;
      this.carryLen[c] = 0;
      // Carried values already had spikes held; feed them again as clean samples.
      this.take(c, this.carry[c]!.slice(0, len), undefined, len, this.carryT0[c]!, this.carryRate[c]!);
    }
    if (this.fill.every((f) => f === this.length)) this.emit();
  }
}
