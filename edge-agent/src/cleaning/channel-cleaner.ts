/**
 * Streaming cleaner for one channel.
 *
 * Decision record (ADR-style, kept here because it describes this file only):
 * - Raw values are never rewritten. Each point leaves with a `Quality` bit set; downstream code
 *   decides what to exclude. Every decision is counted; `snapshot()` hands the counts upstream
 *   (shape of proto `ChannelQuality`) and resets them.
 * - NaN/Inf and range checks are per point. A point that fails either is kept out of the Hampel
 *   window and the drift level, but still passes through with its flag.
 * - Spikes: Hampel filter over a CENTERED window of 2h+1 arrival positions (median and MAD from a
 *   decision made block by block, see dsp/hampel-block.ts). A trailing window would flag the first h+1 points after every
 *   genuine step change as spikes; the centered one keeps steps intact, at the price of h samples
 *   of look-ahead. So output lags input by h samples: `process` emits the points whose decision
 *   is final (copied, with their flags) through a sink, and a gap, `flush()` or a hot swap
 *   (`handOver`) releases the tail with a one-sided window. Invalid points occupy their position as holes. A spike needs at
 *   least h+1 valid neighbours in the window to be called. Defaults h=8, k=6: small windows
 *   estimate the MAD so poorly that h=3, k=3.5 flags 3% of plain Gaussian noise. Limits: a
 *   genuine impact shorter than h+1 samples looks like a spike (bearing impacts ring for longer,
 *   which keeps most of them).
 * - Stuck: a run of `minRun` values within `epsilon` of the run's first value. Points from the
 *   minRun-th on are flagged (earlier ones were already emitted, and a short repeat is normal).
 * - Gaps: from `t0Ms` continuity. A block that starts `minMissingSamples` or more samples away from
 *   where the previous block ended (later, or earlier: a clock jump) is a gap; the window and stuck
 *   run restart and its first point carries AFTER_GAP.
 * - Drift is decided per asset (drift.ts); this class accumulates the level (mean of clean points)
 *   it needs and flags points DRIFTING while the asset says so.
 * - Hot path: a block is checked in one tight loop into a linear buffer that starts with the
 *   previous 2h positions (the look-ahead still undecided plus its left context), then the Hampel
 *   test runs over the whole block, and the sink reads the decided points in place. No per-point
 *   calls or ring arithmetic; state lives in locals during the loops. The sorted-window update
 *   (data-dependent branches) is still most of the cleaning cost.
 */
import type { ChannelSpec, SampleBlock } from '../domain/channel.js';
import { Quality } from '../domain/channel.js';
import { MillwrightError } from '../domain/errors.js';
import { HampelBlock } from '../dsp/hampel-block.js';
import type { ChannelCleaningConfig } from './config.js';

/** A run of cleaned points: raw values (copied) with their flags. Valid only during the sink call. */
export interface CleanedBlock extends SampleBlock {
  /** `flags[i]` is the `Quality` bit set of `values[i]`; like `values`, it may be longer than `length`. */
  flags: Uint8Array;
}

export type CleanedSink = (block: CleanedBlock) => void;

/** Counts of every cleaning decision over an interval; mirrors proto `ChannelQuality`. */
export interface ChannelQuality {
  channel: string;
  points: number;
  nanOrInf: number;
  outOfRange: number;
  spikes: number;
  stuck: number;
  gaps: number;
  calibrationDrift: boolean;
  driftScore: number;
}

/** Flags that make a point unusable as a measurement of the process. */
export const EXCLUDED_FLAGS = Quality.NAN_OR_INF | Quality.OUT_OF_RANGE | Quality.SPIKE;

const INITIAL_BLOCK = 4096;
/** `xs` states of a buffer position. */
const HOLE = 0;
/** A real point kept out of the Hampel statistics (NaN/Inf or out of range). */
const OUTSIDE = 1;
const INSIDE = 2;

export class ChannelCleaner {
  readonly channel: string;
  private readonly h: number;
  private readonly min: number;
  private readonly max: number;
  private readonly stuckOn: boolean;
  private readonly minRun: number;
  private readonly epsilon: number;
  private readonly minMissing: number;

  private readonly hampel: HampelBlock | undefined;
  /**
   * Linear buffer: positions [0, 2h) carry the previous call's last 2h positions, the block
   * follows. Per position: value, immediate flags, state, Hampel statistics membership (1 when
   * INSIDE), spike verdict, and time (kept for carried positions only).
   */
  private xv: Float64Array;
  private xf: Uint8Array;
  private xs: Uint8Array;
  private xw: Uint8Array;
  private xk: Uint8Array;
  private readonly xt: Float64Array;
  /** The buffer from the first centre (position h) on: what the view shows when there are no holes. */
  private xvView: Float64Array;
  private xfView: Uint8Array;

  private outV = new Float64Array(INITIAL_BLOCK);
  private outF = new Uint8Array(INITIAL_BLOCK);
  private readonly view: CleanedBlock;
  /**
   * Points a predecessor held back, decided under its parameters at a hot swap (`handOver`): they
   * leave ahead of this cleaner's first block (or flush), through that call's sink.
   */
  private held: CleanedBlock | undefined;

  private runRef = Number.NaN;
  private runLen = 0;
  private expectedT = Number.NaN;
  private afterGap = 0;
  private drifting = false;
  private driftScore = 0;
  private levelSum = 0;
  private levelN = 0;

  private points = 0;
  private nanOrInf = 0;
  private outOfRange = 0;
  private spikes = 0;
  private stuck = 0;
  private gaps = 0;

  constructor(spec: ChannelSpec, config: ChannelCleaningConfig) {
    this.channel = spec.name;
    this.h = config.hampel?.halfWidth ?? 0;
    this.min = config.range.min ?? Number.NEGATIVE_INFINITY;
    this.max = config.range.max ?? Number.POSITIVE_INFINITY;
    this.stuckOn = config.stuck !== null;
    this.minRun = config.stuck?.minRun ?? 0;
    this.epsilon = config.stuck?.epsilon ?? 0;
    this.minMissing = config.gap.minMissingSamples;
    this.hampel = config.hampel === null ? undefined : new HampelBlock(this.h, config.hampel.k, config.hampel.minSigma);
    const size = 3 * this.h + INITIAL_BLOCK;
    this.xv = new Float64Array(size);
    this.xf = new Uint8Array(size);
    this.xs = new Uint8Array(size);
    this.xw = new Uint8Array(size);
    this.xk = new Uint8Array(size);
    this.xt = new Float64Array(2 * this.h);
    this.xvView = this.xv.subarray(this.h);
    this.xfView = this.xf.subarray(this.h);
    this.view = {
      channel: spec.name,
      t0Ms: 0,
      sampleRateHz: spec.sampleRateHz,
      values: this.outV,
      flags: this.outF,
      length: 0,
    };
  }

  /** Output lag in samples (the Hampel half-width, 0 when spike detection is off). */
  get delaySamples(): number {
    return this.h;
  }

  /**
   * Cleans one block and passes the points whose decision is final to `sink`: up to three calls
   * (points a hot swap handed over, the tail before a gap, then this block's points), none while
   * the look-ahead fills.
   * @throws MillwrightError INVALID when the block belongs to another channel.
   */
  process(block: SampleBlock, sink: CleanedSink): void {
    if (block.channel !== this.channel) {
      throw new MillwrightError('INVALID', 'sample block routed to the wrong cleaner', {
        expected: this.channel,
        got: block.channel,
      });
    }
    if (block.length === 0) return;
    const held = this.takeHeld();
    try {
      if (held) sink(held);
    } finally {
      this.clean(block, sink);
    }
  }

  private clean(block: SampleBlock, sink: CleanedSink): void {
    const n = block.length;
    this.checkContinuity(block, sink);
    this.ensureCapacity(n);
    const h = this.h;
    this.scan(block.values, n, 2 * h);
    this.points += n;
    const o = this.decide(h, h + n, block.t0Ms, 1000 / block.sampleRateHz);
    this.expectedT = block.t0Ms + (block.length * 1000) / block.sampleRateHz;
    // The sink may read the buffer itself, so the carry waits until it returns (or throws).
    try {
      this.emit(o, block.sampleRateHz, sink);
    } finally {
      if (h > 0) this.carry(n, block.t0Ms, 1000 / block.sampleRateHz);
    }
  }

  /** Releases the points still waiting for look-ahead (end of stream, or before a gap). */
  flush(sink: CleanedSink): void {
    const held = this.takeHeld();
    try {
      if (held) sink(held);
    } finally {
      this.emit(this.decideTail(), this.view.sampleRateHz, sink);
    }
  }

  /**
   * Hot reconfiguration: decides the points this cleaner still holds back under its own parameters
   * (as before a gap) and hands them to `next`, which releases them ahead of its first block, with
   * the stream position, stuck run, drift verdict, level sums and counts, so every point leaves
   * exactly once and `snapshot()` loses nothing. Nothing is emitted here: the swap runs no
   * downstream stage, so it cannot fail half-way because of one, and the released points go through
   * the same path (and error handling) as any block. This cleaner must not be used afterwards.
   * @throws MillwrightError INVALID when `next` cleans another channel; nothing changed then.
   */
  handOver(next: ChannelCleaner): void {
    if (next.channel !== this.channel) {
      throw new MillwrightError('INVALID', 'cleaner handed over to another channel', {
        from: this.channel,
        to: next.channel,
      });
    }
    // A cleaner that saw no block since its own hand-over has an empty look-ahead: pass its held points on.
    const o = this.decideTail();
    this.view.length = o;
    next.held = this.takeHeld() ?? (o > 0 ? this.view : undefined);
    next.expectedT = this.expectedT;
    next.afterGap = this.afterGap;
    next.runRef = this.runRef;
    next.runLen = this.runLen;
    next.drifting = this.drifting;
    next.driftScore = this.driftScore;
    next.levelSum = this.levelSum;
    next.levelN = this.levelN;
    next.points = this.points;
    next.nanOrInf = this.nanOrInf;
    next.outOfRange = this.outOfRange;
    next.spikes = this.spikes;
    next.stuck = this.stuck;
    next.gaps = this.gaps;
    next.view.sampleRateHz = this.view.sampleRateHz;
  }

  /** Counts since the last snapshot, with the current drift verdict; resets the counts. */
  snapshot(): ChannelQuality {
    const q: ChannelQuality = {
      channel: this.channel,
      points: this.points,
      nanOrInf: this.nanOrInf,
      outOfRange: this.outOfRange,
      spikes: this.spikes,
      stuck: this.stuck,
      gaps: this.gaps,
      calibrationDrift: this.drifting,
      driftScore: this.driftScore,
    };
    this.points = this.nanOrInf = this.outOfRange = this.spikes = this.stuck = this.gaps = 0;
    return q;
  }

  /** Mean of the clean points emitted since the last call (NaN if none), for drift detection. */
  takeLevel(): number {
    const level = this.levelN > 0 ? this.levelSum / this.levelN : Number.NaN;
    this.levelSum = 0;
    this.levelN = 0;
    return level;
  }

  /** Sets the drift verdict from the asset's drift monitor; later points carry DRIFTING while true. */
  setDrift(drifting: boolean, score: number): void {
    this.drifting = drifting;
    this.driftScore = score;
  }

  private takeHeld(): CleanedBlock | undefined {
    const held = this.held;
    this.held = undefined;
    return held;
  }

  /** Decides the look-ahead as a stream end (one-sided window) and empties it; returns how many points. */
  private decideTail(): number {
    const h = this.h;
    if (h === 0) return 0;
    this.xs.fill(HOLE, 2 * h, 3 * h);
    this.xw.fill(0, 2 * h, 3 * h);
    const o = this.decide(h, 2 * h, Number.NaN, Number.NaN);
    this.hampel?.clear();
    this.xs.fill(HOLE, 0, 2 * h);
    this.xw.fill(0, 0, 2 * h);
    return o;
  }

  private checkContinuity(block: SampleBlock, sink: CleanedSink): void {
    if (Number.isNaN(this.expectedT)) return;
    const missing = ((block.t0Ms - this.expectedT) * block.sampleRateHz) / 1000;
    if (Math.abs(missing) < this.minMissing) return;
    this.flush(sink);
    this.gaps++;
    this.afterGap = Quality.AFTER_GAP;
    this.runLen = 0;
    this.runRef = Number.NaN;
  }

  /**
   * The checks that need no look-ahead (NaN/Inf, range, stuck run), for `n` values written to
   * the buffer from position `at`; counts them.
   */
  private scan(values: Float64Array, n: number, at: number): void {
    const xv = this.xv;
    const xf = this.xf;
    const xs = this.xs;
    const xw = this.xw;
    const min = this.min;
    const max = this.max;
    const stuckOn = this.stuckOn;
    const epsilon = this.epsilon;
    const minRun = this.minRun;
    const base = this.drifting ? Quality.DRIFTING : 0;
    let runRef = this.runRef;
    let runLen = this.runLen;
    let nanOrInf = 0;
    let outOfRange = 0;
    let stuck = 0;
    for (let i = 0; i < n; i++) {
      const x = values[i]!;
      const p = at + i;
      xv[p] = x;
      let f = base;
      if (x - x !== 0) {
        nanOrInf++;
        runLen = 0;
        runRef = Number.NaN;
        xf[p] = f | Quality.NAN_OR_INF;
        xs[p] = OUTSIDE;
        xw[p] = 0;
        continue;
      }
      let s = INSIDE;
      if (x < min || x > max) {
        outOfRange++;
        f |= Quality.OUT_OF_RANGE;
        s = OUTSIDE;
      }
      if (stuckOn) {
        if (Math.abs(x - runRef) <= epsilon) {
          if (++runLen >= minRun) {
            stuck++;
            f |= Quality.STUCK;
          }
        } else {
          runRef = x;
          runLen = 1;
        }
      }
      xf[p] = f;
      xs[p] = s;
      xw[p] = s === INSIDE ? 1 : 0;
    }
    xf[at] = xf[at]! | this.afterGap;
    this.afterGap = 0;
    this.runRef = runRef;
    this.runLen = runLen;
    this.nanOrInf += nanOrInf;
    this.outOfRange += outOfRange;
    this.stuck += stuck;
  }

  /**
   * Decides the centres [from, to) of the buffer and points the view at the real points among
   * them; returns how many. Positions from 2h on are this block's (t0, dt), earlier ones carried.
   * Without holes (the usual case) the view reads the buffer itself, with SPIKE added to the flags
   * in place; holes (stream start, flush) only occur among the carried positions and make us copy.
   */
  private decide(from: number, to: number, t0: number, dt: number): number {
    const h = this.h;
    const xv = this.xv;
    const xf = this.xf;
    const xs = this.xs;
    const xk = this.xk;
    if (this.hampel !== undefined) this.spikes += this.hampel.detect(xv, this.xw, from, to, xk);
    let holes = false;
    for (let j = from; j < to && j < 2 * h; j++) holes ||= xs[j] === HOLE;
    let sum = this.levelSum;
    let levelN = this.levelN;
    let o = 0;
    if (!holes) {
      for (let j = from; j < to; j++) {
        if (xs[j] !== INSIDE) continue;
        if (h > 0 && xk[j] === 1) xf[j] = xf[j]! | Quality.SPIKE;
        else {
          sum += xv[j]!;
          levelN++;
        }
      }
      o = to - from;
      if (o > 0) this.view.t0Ms = from < 2 * h ? this.xt[from]! : t0 + (from - 2 * h) * dt;
      this.view.values = this.xvView;
      this.view.flags = this.xfView;
    } else {
      const outV = this.outV;
      const outF = this.outF;
      for (let j = from; j < to; j++) {
        const s = xs[j]!;
        if (s === HOLE) continue;
        let f = xf[j]!;
        if (s === INSIDE) {
          if (h > 0 && xk[j] === 1) f |= Quality.SPIKE;
          else {
            sum += xv[j]!;
            levelN++;
          }
        }
        if (o === 0) this.view.t0Ms = j < 2 * h ? this.xt[j]! : t0 + (j - 2 * h) * dt;
        outV[o] = xv[j]!;
        outF[o++] = f;
      }
      this.view.values = outV;
      this.view.flags = outF;
    }
    this.levelSum = sum;
    this.levelN = levelN;
    return o;
  }

  /** Moves the last 2h positions (n new ones were appended) to the front for the next call. */
  private carry(n: number, t0: number, dt: number): void {
    const w = 2 * this.h;
    const xt = this.xt;
    // Ascending copy is safe: the destination is never ahead of the source.
    for (let p = 0; p < w; p++) {
      const q = p + n;
      xt[p] = q < w ? xt[q]! : t0 + (q - w) * dt;
    }
    this.xv.copyWithin(0, n, n + w);
    this.xf.copyWithin(0, n, n + w);
    this.xs.copyWithin(0, n, n + w);
    this.xw.copyWithin(0, n, n + w);
  }

  private ensureCapacity(n: number): void {
    if (this.xv.length < 3 * this.h + n) {
      const size = 3 * this.h + (1 << Math.ceil(Math.log2(n)));
      this.xv = grow(this.xv, new Float64Array(size));
      this.xf = grow(this.xf, new Uint8Array(size));
      this.xs = grow(this.xs, new Uint8Array(size));
      this.xw = grow(this.xw, new Uint8Array(size));
      this.xk = new Uint8Array(size);
      this.xvView = this.xv.subarray(this.h);
      this.xfView = this.xf.subarray(this.h);
    }
    if (this.outV.length < n + this.h) {
      const size = 1 << Math.ceil(Math.log2(n + this.h));
      this.outV = new Float64Array(size);
      this.outF = new Uint8Array(size);
    }
  }

  private emit(length: number, sampleRateHz: number, sink: CleanedSink): void {
    if (length === 0) return;
    this.view.length = length;
    this.view.sampleRateHz = sampleRateHz;
    sink(this.view);
  }
}

function grow<T extends Float64Array | Uint8Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
