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
 *   preallocated sorted window). A trailing window would flag the first h+1 points after every
 *   genuine step change as spikes; the centered one keeps steps intact, at the price of h samples
 *   of look-ahead. So output lags input by h samples: `process` emits the points whose decision
 *   is final (copied, with their flags) through a sink, and a gap or `flush()` releases the tail
 *   with a one-sided window. Invalid points occupy their position as holes. A spike needs at
 *   least h+1 valid neighbours in the window to be called. Defaults h=8, k=6: small windows
 *   estimate the MAD so poorly that h=3, k=3.5 flags 3% of plain Gaussian noise. Limits: a
 *   genuine impact shorter than h+1 samples looks like a spike (bearing impacts ring for longer,
 *   which keeps most of them); the sorted-window update is most of the cleaning cost.
 * - Stuck: a run of `minRun` values within `epsilon` of the run's first value. Points from the
 *   minRun-th on are flagged (earlier ones were already emitted, and a short repeat is normal).
 * - Gaps: from `t0Ms` continuity. A block that starts `minMissingSamples` or more samples away from
 *   where the previous block ended (later, or earlier: a clock jump) is a gap; the window and stuck
 *   run restart and its first point carries AFTER_GAP.
 * - Drift is decided per asset (drift.ts); this class accumulates the level (mean of clean points)
 *   it needs and flags points DRIFTING while the asset says so.
 */
import type { ChannelSpec, SampleBlock } from '../domain/channel.js';
import { Quality } from '../domain/channel.js';
import { MillwrightError } from '../domain/errors.js';
import { HampelWindow } from '../dsp/hampel-window.js';
import type { ChannelCleaningConfig } from './config.js';

/** A run of cleaned points: raw values (copied) with their flags. Valid only during the sink call. */
export interface CleanedBlock extends SampleBlock {
  /** `flags[i]` is the `Quality` bit set of `values[i]`. */
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

const INITIAL_OUTPUT = 4096;

export class ChannelCleaner {
  readonly channel: string;
  private readonly h: number;
  private readonly width: number;
  private readonly min: number;
  private readonly max: number;
  private readonly stuckOn: boolean;
  private readonly minRun: number;
  private readonly epsilon: number;
  private readonly minMissing: number;

  private readonly win: HampelWindow;
  private readonly rv: Float64Array;
  private readonly rt: Float64Array;
  private readonly rf: Uint8Array;
  /** 1 when the position holds a real point (0: a hole, before the first point or after a flush). */
  private readonly rs: Uint8Array;
  private slot = 0;

  private outV = new Float64Array(INITIAL_OUTPUT);
  private outF = new Uint8Array(INITIAL_OUTPUT);
  private readonly view: CleanedBlock;

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
    this.width = 2 * this.h + 1;
    this.min = config.range.min ?? Number.NEGATIVE_INFINITY;
    this.max = config.range.max ?? Number.POSITIVE_INFINITY;
    this.stuckOn = config.stuck !== null;
    this.minRun = config.stuck?.minRun ?? 0;
    this.epsilon = config.stuck?.epsilon ?? 0;
    this.minMissing = config.gap.minMissingSamples;
    this.rv = new Float64Array(this.width);
    this.win = new HampelWindow(this.rv, this.width, config.hampel?.k ?? 0, config.hampel?.minSigma ?? 0);
    this.rt = new Float64Array(this.width);
    this.rf = new Uint8Array(this.width);
    this.rs = new Uint8Array(this.width);
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
   * Cleans one block and passes the points whose decision is final to `sink`: up to two calls
   * (the tail before a gap, then this block's points), none while the look-ahead fills.
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
    this.checkContinuity(block, sink);
    this.ensureOutput(block.length + this.h);
    const o = this.h === 0 ? this.passThrough(block) : this.filter(block);
    this.expectedT = block.t0Ms + (block.length * 1000) / block.sampleRateHz;
    this.emit(o, block.sampleRateHz, sink);
  }

  /** Releases the points still waiting for look-ahead (end of stream, or before a gap). */
  flush(sink: CleanedSink): void {
    if (this.h === 0) return;
    let o = 0;
    for (let i = 0; i < this.h; i++) {
      this.advanceSlot();
      this.pushHole();
      o = this.finalize(o);
    }
    this.win.clear();
    this.rs.fill(0);
    this.emit(o, this.view.sampleRateHz, sink);
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
   * Flags of the checks that need no look-ahead for the value at ring `slot`; updates the counters
   * and the stuck run. Per-point helpers take slots, not values: see HampelWindow on boxing.
   */
  private immediateFlags(slot: number): number {
    const x = this.rv[slot]!;
    let f = this.drifting ? Quality.DRIFTING : 0;
    if (x - x !== 0) {
      this.nanOrInf++;
      this.runLen = 0;
      this.runRef = Number.NaN;
      return f | Quality.NAN_OR_INF;
    }
    if (x < this.min || x > this.max) {
      this.outOfRange++;
      f |= Quality.OUT_OF_RANGE;
    }
    if (this.stuckOn) {
      if (Math.abs(x - this.runRef) <= this.epsilon) {
        if (++this.runLen >= this.minRun) {
          this.stuck++;
          f |= Quality.STUCK;
        }
      } else {
        this.runRef = x;
        this.runLen = 1;
      }
    }
    return f;
  }

  private passThrough(block: SampleBlock): number {
    const values = block.values;
    const n = block.length;
    const outV = this.outV;
    const outF = this.outF;
    const rv = this.rv;
    for (let i = 0; i < n; i++) {
      rv[0] = values[i]!;
      const f = this.immediateFlags(0) | this.afterGap;
      this.afterGap = 0;
      outV[i] = rv[0]!;
      outF[i] = f;
      if ((f & EXCLUDED_FLAGS) === 0) {
        this.levelSum += rv[0]!;
        this.levelN++;
      }
    }
    this.points += n;
    this.view.t0Ms = block.t0Ms;
    return n;
  }

  private filter(block: SampleBlock): number {
    const values = block.values;
    const n = block.length;
    const dt = 1000 / block.sampleRateHz;
    const t0 = block.t0Ms;
    const rv = this.rv;
    const rt = this.rt;
    const rf = this.rf;
    const rs = this.rs;
    const win = this.win;
    let o = 0;
    for (let i = 0; i < n; i++) {
      const s = this.advanceSlot();
      rv[s] = values[i]!;
      rt[s] = t0 + i * dt;
      const f = this.immediateFlags(s) | this.afterGap;
      this.afterGap = 0;
      rf[s] = f;
      rs[s] = 1;
      win.set(s, (f & (Quality.NAN_OR_INF | Quality.OUT_OF_RANGE)) === 0);
      o = this.finalize(o);
    }
    this.points += n;
    return o;
  }

  private advanceSlot(): number {
    const s = this.slot + 1 === this.width ? 0 : this.slot + 1;
    this.slot = s;
    return s;
  }

  private pushHole(): void {
    const s = this.slot;
    this.win.set(s, false);
    this.rs[s] = 0;
  }

  /** Decides the point at the window centre and appends it to the output at `o`. */
  private finalize(o: number): number {
    const c = this.slot >= this.h ? this.slot - this.h : this.slot - this.h + this.width;
    if (this.rs[c] === 0) return o;
    let f = this.rf[c]!;
    if (this.win.holds(c)) {
      if (this.win.count > this.h && this.win.isOutlier(c)) {
        f |= Quality.SPIKE;
        this.spikes++;
      } else {
        this.levelSum += this.rv[c]!;
        this.levelN++;
      }
    }
    if (o === 0) this.view.t0Ms = this.rt[c]!;
    this.outV[o] = this.rv[c]!;
    this.outF[o] = f;
    return o + 1;
  }

  private ensureOutput(n: number): void {
    if (this.outV.length >= n) return;
    const size = 1 << Math.ceil(Math.log2(n));
    this.outV = new Float64Array(size);
    this.outF = new Uint8Array(size);
    this.view.values = this.outV;
    this.view.flags = this.outF;
  }

  private emit(length: number, sampleRateHz: number, sink: CleanedSink): void {
    if (length === 0) return;
    this.view.length = length;
    this.view.sampleRateHz = sampleRateHz;
    sink(this.view);
  }
}
