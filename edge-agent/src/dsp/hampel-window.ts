import { sortedMad } from './hampel-block.js';

/**
 * Sliding window for a streaming Hampel filter: the raw values sit in a caller-owned ring
 * (`values`, one entry per slot) and this class keeps the slots that are in the window sorted
 * by value, for median and MAD (median absolute deviation) without allocation. Updates shift a
 * small preallocated array, which beats a heap pair for the 7 to 129 values in play.
 *
 * The hot methods take slot indexes and return integers or booleans, never doubles: V8 boxes a
 * double passed to or returned from a call it does not inline, and in a per-point loop that
 * allocation dominated the run time (thousands of scavenges per second).
 *
 * The streaming cleaner uses `HampelBlock` (hampel-block.ts) instead, which tracks each slot's
 * rank rather than searching for it and tests a whole block per call; this window remains for
 * callers that decide one point at a time.
 */
export class HampelWindow {
  readonly capacity: number;
  /** Spike when |x - median| > k * max(1.4826 * MAD, minSigma). */
  readonly k: number;
  readonly minSigma: number;
  private readonly values: Float64Array;
  private readonly sorted: Float64Array;
  /** Per slot: the value it has in the window, and whether it has one. */
  private readonly held: Float64Array;
  private readonly has: Uint8Array;
  /** Rank offset from the median for the O(1) MAD bounds, when the window is full (see isOutlier). */
  private readonly q: number;
  private n = 0;

  /** @param values the ring the slots index; at least `capacity` long. */
  constructor(values: Float64Array, capacity: number, k: number, minSigma: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || values.length < capacity) {
      throw new RangeError(`capacity must be in [1, ${values.length}], got ${capacity}`);
    }
    this.values = values;
    this.capacity = capacity;
    this.k = k;
    this.minSigma = minSigma;
    this.sorted = new Float64Array(capacity);
    this.held = new Float64Array(values.length);
    this.has = new Uint8Array(values.length);
    this.q = Math.ceil((capacity - 1) / 4);
  }

  get count(): number {
    return this.n;
  }

  clear(): void {
    this.n = 0;
    this.has.fill(0);
  }

  /** True when the slot currently has a value in the window. */
  holds(slot: number): boolean {
    return this.has[slot] === 1;
  }

  /**
   * Makes the window hold the slot's current value (`enter` true, the value must be finite) or
   * nothing for that slot, dropping the value it held before. A replacement moves the entry only
   * across the ranks between old and new value instead of removing and re-inserting it.
   * @throws RangeError when a value enters a full window (a caller bug: slots exceed capacity).
   */
  set(slot: number, enter: boolean): void {
    const had = this.has[slot] === 1;
    if (had && enter) this.replace(this.held[slot]!, slot);
    else if (had) this.remove(this.held[slot]!);
    else if (enter) this.insert(slot);
    this.has[slot] = enter ? 1 : 0;
    this.held[slot] = this.values[slot]!;
  }

  private insert(slot: number): void {
    if (this.n === this.capacity) throw new RangeError('HampelWindow is full');
    const s = this.sorted;
    const x = this.values[slot]!;
    let i = this.n - 1;
    while (i >= 0 && s[i]! > x) {
      s[i + 1] = s[i]!;
      i--;
    }
    s[i + 1] = x;
    this.n++;
  }

  private remove(old: number): void {
    const s = this.sorted;
    for (let j = this.indexOf(old) + 1; j < this.n; j++) s[j - 1] = s[j]!;
    this.n--;
  }

  private replace(old: number, slot: number): void {
    const s = this.sorted;
    const x = this.values[slot]!;
    let i = this.indexOf(old);
    if (x >= old) {
      while (i + 1 < this.n && s[i + 1]! < x) {
        s[i] = s[i + 1]!;
        i++;
      }
    } else {
      while (i > 0 && s[i - 1]! > x) {
        s[i] = s[i - 1]!;
        i--;
      }
    }
    s[i] = x;
  }

  /** Index of a value known to be held (binary search for its first occurrence). */
  private indexOf(x: number): number {
    const s = this.sorted;
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (s[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * True when the value at `slot` lies more than k robust sigmas from the window median.
   * The exact MAD costs a merge with data-dependent branches (most of the filter's time), so a
   * full window first tries O(1) bounds: with h = (n-1)/2, q = ceil(h/2), dL = med - s[h-q] and
   * dR = s[h+q] - med, at most 2q-1 <= h values lie closer than min(dL, dR) and at least
   * 2q+1 >= h+1 lie within max(dL, dR), so min(dL, dR) <= MAD <= max(dL, dR).
   */
  isOutlier(slot: number): boolean {
    if (this.n === 0) return false;
    const med = this.median();
    const dev = Math.abs(this.values[slot]! - med);
    if (this.n === this.capacity && (this.capacity & 1) === 1) {
      const h = this.n >>> 1;
      const dl = med - this.sorted[h - this.q]!;
      const dr = this.sorted[h + this.q]! - med;
      if (dev <= this.k * Math.max(1.4826 * Math.min(dl, dr), this.minSigma)) return false;
      if (dev > this.k * Math.max(1.4826 * Math.max(dl, dr), this.minSigma)) return true;
    }
    return dev > this.k * Math.max(1.4826 * this.mad(med), this.minSigma);
  }

  /** Median of the window; NaN when empty. */
  median(): number {
    const n = this.n;
    if (n === 0) return Number.NaN;
    const s = this.sorted;
    const h = n >>> 1;
    return (n & 1) === 1 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
  }

  /** Median of |x - median| over the window; NaN when empty. */
  mad(median: number): number {
    return this.n === 0 ? Number.NaN : sortedMad(this.sorted, this.n, median);
  }
}
