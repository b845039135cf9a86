/**
 * Calibration drift detection for the channels of one asset.
 *
 * Decision record (ADR-style, kept here because it describes this file only):
 * - Problem: a sensor losing calibration and a machine changing state both move a channel's
 *   level. Looking at one channel alone cannot tell them apart, so the reference is the asset's
 *   other channels (analytical redundancy, as in MSET-style plant monitoring): channels that
 *   respond to the same machine state (bearing temperatures and motor current all follow load).
 * - Input: one mean level per channel per interval (tens of seconds), not per point, so the cost
 *   is negligible and noise is averaged away.
 * - Learning: over a rolling reference window of `learnIntervals` intervals, each monitored
 *   channel c is regressed on each configured sibling j (x_c = a + b * x_j). A sibling is kept as a
 *   reference only if |correlation| >= minCorrelation, i.e. the window contained enough machine
 *   variation to learn how c follows j. Until one sibling qualifies the channel stays "learning"
 *   and is never declared drifting.
 * - Envelope: the learned relation is trusted only near the sibling levels seen while learning
 *   (their range widened by `envelopeMargin` on each side). A gain learned from noisy data is off
 *   by a little, and far outside the learned range that error alone looks like an offset. Outside
 *   the envelope the channel is "extrapolating": its CUSUM is held, not fed. After
 *   `learnIntervals` intervals outside, the machine has a new operating point: relearn.
 * - Detection: residual r_c = median over kept siblings of (x_c - a_j - b_j * x_j), in sigmas of
 *   its spread during learning; a two-sided CUSUM (slack, threshold) accumulates it. A machine
 *   change moves c and its siblings together, as learned, so r_c stays near zero; a calibration
 *   offset moves c alone, so r_c grows. The median makes each channel's residual immune to one
 *   drifting sibling when it has three or more siblings. driftScore = CUSUM / threshold; >= 1
 *   is reported as calibration drift. The slack is at least the sensor's stated tolerance: an
 *   offset the sensor is allowed to have is not drift, and a reference learned from finite noisy
 *   data is itself off by a fraction of a sigma, more so at the edges of the learned range.
 * - Reference invalidation: when `machineChangeFraction` of the armed, non-drifting channels exceed
 *   `machineChangeZ` sigmas in the same interval, the machine has left the learned relationship
 *   (new operating regime, maintenance): every channel drops its CUSUM and relearns.
 * Limits: no verdict outside the learned envelope until relearning; a genuine change seen by one
 *   channel only (a local coolant leak) is indistinguishable from drift; a sensor that drifts during learning is learned as normal; common-mode drift (all
 *   sensors on one miscalibrated transmitter) is invisible; with one or two siblings, one drifting
 *   sibling leaks into its peers' residuals; gain (sensitivity) drift is only caught through its
 *   effect on the level; relearning after invalidation leaves a blind spell of learnIntervals.
 */
import { MillwrightError } from '../domain/errors.js';
import type { AssetDriftConfig, ChannelDriftConfig } from './config.js';

export type DriftStatus = 'off' | 'learning' | 'armed' | 'extrapolating';

/** Per-channel drift verdict. */
export interface DriftState {
  status: DriftStatus;
  drifting: boolean;
  /** CUSUM / threshold; >= 1 when drifting. 0 when not armed. */
  score: number;
  /** Latest residual in learned sigmas (NaN when not armed or no data). */
  z: number;
}

interface Monitored {
  index: number;
  config: ChannelDriftConfig;
  siblings: Int32Array;
  gain: Float64Array;
  offset: Float64Array;
  use: Uint8Array;
  /** Envelope of each sibling's levels in the reference window. */
  low: Float64Array;
  high: Float64Array;
  outside: number;
  scratch: Float64Array;
  center: number;
  sigma: number;
  armed: boolean;
  hi: number;
  lo: number;
  z: number;
}

/** Drift monitor over the channels of one asset, fed one row of interval levels at a time. */
export class DriftMonitor {
  readonly channels: readonly string[];
  private readonly monitored: Monitored[] = [];
  private readonly byIndex: (Monitored | undefined)[];
  private readonly history: Float64Array;
  private rows = 0;
  private head = 0;
  private machineChangeCount = 0;

  /**
   * @param channels the asset's channel names; `observe` rows follow this order.
   * @param configs drift config of each monitored channel, by name.
   * @throws MillwrightError INVALID when a sibling is unknown or is the channel itself.
   */
  constructor(
    channels: readonly string[],
    configs: Readonly<Record<string, ChannelDriftConfig | undefined>>,
    private readonly asset: AssetDriftConfig,
  ) {
    this.channels = channels;
    this.history = new Float64Array(asset.learnIntervals * channels.length);
    this.byIndex = channels.map((name, index) => {
      const config = configs[name];
      if (config === undefined) return undefined;
      const m = this.makeMonitored(name, index, config);
      this.monitored.push(m);
      return m;
    });
  }

  /** Times the learned reference was dropped because the machine left it. */
  get machineChanges(): number {
    return this.machineChangeCount;
  }

  /** Feeds one interval: `levels[i]` is the mean level of `channels[i]` (NaN when it had no clean data). */
  observe(levels: ArrayLike<number>): void {
    this.pushRow(levels);
    let moved = false;
    for (const m of this.monitored) {
      if (!m.armed && this.rows === this.asset.learnIntervals) this.fit(m);
      m.z = m.armed ? this.judge(m, levels) : Number.NaN;
      moved ||= m.outside >= this.asset.learnIntervals;
    }
    if (moved || this.isMachineChange()) {
      this.relearn(moved);
      return;
    }
    for (const m of this.monitored) this.accumulate(m);
  }

  state(index: number): DriftState {
    const m = this.byIndex[index];
    if (m === undefined) return { status: 'off', drifting: false, score: 0, z: Number.NaN };
    const score = m.armed ? Math.max(m.hi, m.lo) / m.config.threshold : 0;
    const status = !m.armed ? 'learning' : m.outside > 0 ? 'extrapolating' : 'armed';
    return { status, drifting: score >= 1, score, z: m.z };
  }

  private makeMonitored(name: string, index: number, config: ChannelDriftConfig): Monitored {
    const siblings = config.siblings.map((s) => {
      const j = this.channels.indexOf(s);
      if (j < 0 || j === index) {
        throw new MillwrightError('INVALID', 'drift sibling must be another channel of the same asset', {
          channel: name,
          sibling: s,
        });
      }
      return j;
    });
    const k = siblings.length;
    return {
      index,
      config,
      siblings: Int32Array.from(siblings),
      gain: new Float64Array(k),
      offset: new Float64Array(k),
      use: new Uint8Array(k),
      low: new Float64Array(k),
      high: new Float64Array(k),
      outside: 0,
      scratch: new Float64Array(k),
      center: 0,
      sigma: 0,
      armed: false,
      hi: 0,
      lo: 0,
      z: Number.NaN,
    };
  }

  private pushRow(levels: ArrayLike<number>): void {
    const m = this.channels.length;
    for (let i = 0; i < m; i++) this.history[this.head * m + i] = levels[i] ?? Number.NaN;
    this.head = (this.head + 1) % this.asset.learnIntervals;
    this.rows = Math.min(this.rows + 1, this.asset.learnIntervals);
  }

  private level(row: number, channel: number): number {
    return this.history[row * this.channels.length + channel]!;
  }

  /** Regresses the channel on each sibling over the reference window; arms it if one qualifies. */
  private fit(m: Monitored): void {
    let usable = 0;
    for (let s = 0; s < m.siblings.length; s++) {
      const ok = this.fitSibling(m, s);
      m.use[s] = ok ? 1 : 0;
      if (ok) usable++;
    }
    if (usable === 0) return;
    this.calibrateResidual(m);
    m.armed = m.sigma > 0;
  }

  private fitSibling(m: Monitored, s: number): boolean {
    const j = m.siblings[s]!;
    let n = 0;
    let sx = 0;
    let sy = 0;
    let sxx = 0;
    let syy = 0;
    let sxy = 0;
    let low = Number.POSITIVE_INFINITY;
    let high = Number.NEGATIVE_INFINITY;
    for (let r = 0; r < this.rows; r++) {
      const x = this.level(r, j);
      const y = this.level(r, m.index);
      if (Number.isNaN(x) || Number.isNaN(y)) continue;
      n++;
      low = Math.min(low, x);
      high = Math.max(high, x);
      sx += x;
      sy += y;
      sxx += x * x;
      syy += y * y;
      sxy += x * y;
    }
    if (n < 3) return false;
    const vx = sxx / n - (sx / n) ** 2;
    const vy = syy / n - (sy / n) ** 2;
    const cov = sxy / n - (sx / n) * (sy / n);
    if (!(vx > 0 && vy > 0) || Math.abs(cov / Math.sqrt(vx * vy)) < m.config.minCorrelation) return false;
    m.gain[s] = cov / vx;
    m.offset[s] = sy / n - (cov / vx) * (sx / n);
    const margin = (high - low) * this.asset.envelopeMargin;
    m.low[s] = low - margin;
    m.high[s] = high + margin;
    return true;
  }

  /** Centre and spread of the combined residual over the reference window. */
  private calibrateResidual(m: Monitored): void {
    let n = 0;
    let sum = 0;
    let sumSq = 0;
    m.center = 0;
    const row = new Float64Array(this.channels.length);
    for (let r = 0; r < this.rows; r++) {
      for (let i = 0; i < row.length; i++) row[i] = this.level(r, i);
      const e = this.rawResidual(m, row);
      if (Number.isNaN(e)) continue;
      n++;
      sum += e;
      sumSq += e * e;
    }
    m.center = n > 0 ? sum / n : 0;
    m.sigma = n > 1 ? Math.sqrt(Math.max(0, sumSq / n - m.center ** 2)) : 0;
  }

  /** Residual in sigmas, or NaN (no verdict) while a sibling is outside the learned envelope. */
  private judge(m: Monitored, levels: ArrayLike<number>): number {
    for (let s = 0; s < m.siblings.length; s++) {
      const x = levels[m.siblings[s]!] ?? Number.NaN;
      if (m.use[s] === 1 && (x < m.low[s]! || x > m.high[s]!)) {
        m.outside++;
        return Number.NaN;
      }
    }
    m.outside = 0;
    return (this.rawResidual(m, levels) - m.center) / m.sigma;
  }

  /** Median over the kept siblings of the channel's deviation from what that sibling predicts. */
  private rawResidual(m: Monitored, levels: ArrayLike<number>): number {
    const y = levels[m.index] ?? Number.NaN;
    if (Number.isNaN(y)) return Number.NaN;
    let k = 0;
    for (let s = 0; s < m.siblings.length; s++) {
      const x = levels[m.siblings[s]!] ?? Number.NaN;
      if (m.use[s] === 0 || Number.isNaN(x)) continue;
      m.scratch[k++] = y - m.offset[s]! - m.gain[s]! * x;
    }
    return median(m.scratch, k);
  }

  private isMachineChange(): boolean {
    let armed = 0;
    let far = 0;
    for (const m of this.monitored) {
      if (!m.armed || Number.isNaN(m.z) || this.state(m.index).drifting) continue;
      armed++;
      if (Math.abs(m.z) > this.asset.machineChangeZ) far++;
    }
    return armed >= 2 && far >= this.asset.machineChangeFraction * armed;
  }

  /**
   * Drops the reference. After a long stay outside the envelope the reference window already holds
   * the new operating point; after a sudden break only the latest row is kept.
   */
  private relearn(keepWindow: boolean): void {
    this.machineChangeCount++;
    if (!keepWindow) {
      const m = this.channels.length;
      const last = (this.head + this.asset.learnIntervals - 1) % this.asset.learnIntervals;
      this.history.copyWithin(0, last * m, last * m + m);
      this.rows = 1;
      this.head = 1 % this.asset.learnIntervals;
    }
    for (const m of this.monitored) {
      m.armed = false;
      m.outside = 0;
      m.hi = 0;
      m.lo = 0;
      m.z = Number.NaN;
    }
  }

  private accumulate(m: Monitored): void {
    if (!m.armed || Number.isNaN(m.z)) return;
    const slack = Math.max(m.config.slack, m.config.tolerance / m.sigma);
    m.hi = Math.max(0, m.hi + m.z - slack);
    m.lo = Math.max(0, m.lo - m.z - slack);
  }
}

/** Median of the first `n` entries of `a`, sorting them in place; NaN when n is 0. */
function median(a: Float64Array, n: number): number {
  if (n === 0) return Number.NaN;
  for (let i = 1; i < n; i++) {
    const x = a[i]!;
    let j = i - 1;
    while (j >= 0 && a[j]! > x) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = x;
  }
  const h = n >>> 1;
  return (n & 1) === 1 ? a[h]! : (a[h - 1]! + a[h]!) / 2;
}
