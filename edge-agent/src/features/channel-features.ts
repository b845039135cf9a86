/**
 * Window assembler and feature extractor for one channel. Collects cleaned points into fixed-size
 * windows (counted in points, good and bad), leaves flagged points out of the features so an
 * electrical spike cannot fake a fault, and reports each window's bad-point fraction.
 *
 * Vibration features are taken on the window's AC part (its mean removed): a DC offset from
 * mounting or gravity is not vibration. Band energies come from a zero-padded FFT in which
 * excluded points are set to the window mean, divided by the good-point count, so the bands that
 * tile [0, fs/2] sum to rms^2. Features of a window without two good points are NaN.
 */
import type { CleanedBlock } from '../cleaning/channel-cleaner.js';
import type { ChannelSpec } from '../domain/channel.js';
import { Quality } from '../domain/channel.js';
import { MillwrightError } from '../domain/errors.js';
import type { FeatureSpec } from '../domain/model.js';
import { BandEnergies } from '../dsp/band-energy.js';
import type { ChannelFeatureConfig } from './config.js';
import { channelFeatureSpecs } from './names.js';

/** Called synchronously when a window completes; read `values` before returning. */
export type WindowListener = (extractor: ChannelFeatures) => void;

export class ChannelFeatures {
  readonly spec: ChannelSpec;
  readonly windowSize: number;
  /** Names and units, in the order of `values`. */
  readonly features: readonly FeatureSpec[];
  /** Features of the latest completed window (overwritten by the next). */
  readonly values: Float64Array;
  /** Windows completed so far. */
  windows = 0;
  /** Bad points / window size of the latest window. */
  badFraction = Number.NaN;
  windowStartMs = Number.NaN;
  windowEndMs = Number.NaN;

  private readonly mask: number;
  private readonly buf: Float64Array;
  private readonly good: Uint8Array;
  private readonly bands: BandEnergies | undefined;
  private readonly scratch: Float64Array;
  private readonly listener: WindowListener | undefined;
  private pos = 0;
  private bad = 0;
  /** Sum of the window's good values so far, in index order (the mean needs no extra pass). */
  private goodSum = 0;
  private startMs = Number.NaN;

  constructor(spec: ChannelSpec, config: ChannelFeatureConfig, listener?: WindowListener) {
    if (spec.kind === 'process' && config.bands.length > 0) {
      throw new MillwrightError('INVALID', 'band energies are for vibration channels', { channel: spec.name });
    }
    this.spec = spec;
    this.windowSize = config.windowSize;
    this.features = channelFeatureSpecs(spec, config.bands);
    this.values = new Float64Array(this.features.length);
    this.mask = config.exclude.reduce((m, f) => m | Quality[f], Quality.NAN_OR_INF as number);
    this.buf = new Float64Array(config.windowSize);
    this.good = new Uint8Array(config.windowSize);
    this.bands =
      config.bands.length > 0 ? new BandEnergies(config.windowSize, spec.sampleRateHz, config.bands) : undefined;
    this.scratch = this.bands === undefined ? new Float64Array(config.windowSize) : new Float64Array(0);
    this.listener = listener;
  }

  /** Appends a cleaned block; computes features each time a window fills. */
  push(block: CleanedBlock): void {
    const dt = 1000 / block.sampleRateHz;
    let i = 0;
    while (i < block.length) {
      if (this.pos === 0) this.startMs = block.t0Ms + i * dt;
      const take = Math.min(block.length - i, this.windowSize - this.pos);
      this.bad += this.copy(block, i, take);
      i += take;
      if (this.pos === this.windowSize) this.complete(block.t0Ms + i * dt);
    }
  }

  /** Copies `n` points from `from`; returns how many were bad. */
  private copy(block: CleanedBlock, from: number, n: number): number {
    const buf = this.buf;
    const good = this.good;
    const values = block.values;
    const flags = block.flags;
    const mask = this.mask;
    let p = this.pos;
    let bad = 0;
    let sum = this.goodSum;
    for (let i = from; i < from + n; i++) {
      const x = values[i]!;
      buf[p] = x;
      if ((flags[i]! & mask) === 0) {
        good[p++] = 1;
        sum += x;
      } else {
        good[p++] = 0;
        bad++;
      }
    }
    this.pos = p;
    this.goodSum = sum;
    return bad;
  }

  private complete(endMs: number): void {
    this.badFraction = this.bad / this.windowSize;
    this.windowStartMs = this.startMs;
    this.windowEndMs = endMs;
    if (this.spec.kind === 'vibration') this.vibration();
    else this.process();
    this.windows++;
    this.pos = 0;
    this.bad = 0;
    this.goodSum = 0;
    this.listener?.(this);
  }

  private goodMean(): number {
    const n = this.windowSize - this.bad;
    return n > 1 ? this.goodSum / n : Number.NaN;
  }

  private vibration(): void {
    const mean = this.goodMean();
    const out = this.values;
    if (Number.isNaN(mean)) {
      out.fill(Number.NaN);
      return;
    }
    // Without bands the AC part goes to a scratch array nobody reads, so the loop has no branch.
    const ac = this.bands?.input ?? this.scratch;
    const buf = this.buf;
    const good = this.good;
    let m2 = 0;
    let m3 = 0;
    let m4 = 0;
    let peak = 0;
    const n = this.windowSize - this.bad;
    for (let i = 0; i < this.windowSize; i++) {
      const d = good[i] === 1 ? buf[i]! - mean : 0;
      ac[i] = d;
      const d2 = d * d;
      m2 += d2;
      m3 += d2 * d;
      m4 += d2 * d2;
      const a = Math.abs(d);
      if (a > peak) peak = a;
    }
    m2 /= n;
    m3 /= n;
    m4 /= n;
    const rms = Math.sqrt(m2);
    out[0] = rms;
    out[1] = peak;
    out[2] = peak / rms;
    out[3] = m4 / (m2 * m2);
    out[4] = m3 / (m2 * rms);
    this.bands?.compute(n, out, 5);
  }

  private process(): void {
    const out = this.values;
    const mean = this.goodMean();
    if (Number.isNaN(mean)) {
      out.fill(Number.NaN);
      return;
    }
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    let m2 = 0;
    let st = 0;
    let stt = 0;
    let stx = 0;
    let n = 0;
    for (let i = 0; i < this.windowSize; i++) {
      if (this.good[i] === 0) continue;
      const x = this.buf[i]!;
      if (x < min) min = x;
      if (x > max) max = x;
      const d = x - mean;
      m2 += d * d;
      st += i;
      stt += i * i;
      stx += i * d;
      n++;
    }
    const tVar = stt - (st * st) / n;
    out[0] = mean;
    out[1] = min;
    out[2] = max;
    out[3] = Math.sqrt(m2 / n);
    out[4] = tVar > 0 ? (stx / tVar) * this.spec.sampleRateHz : Number.NaN;
  }
}
