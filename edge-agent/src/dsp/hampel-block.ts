/**
 * Centred Hampel spike test over a linear buffer, many centres per call.
 *
 * A point x_j is a spike when |x_j - med| > k * max(1.4826 * MAD, minSigma), with med and MAD over
 * the in-window values of positions [j - h, j + h]. The window is a sorted array of 2h+1 entries,
 * one per ring slot; a slot without a value holds +Infinity, so the n values sort first. Each step
 * moves the entering value from its slot's current rank to its new one: the rank of every slot is
 * tracked, so there is no search, and the move touches only the ranks in between (a few for
 * noise). For a full window the test first uses O(1) bounds on the MAD (see `isOutlier` in
 * hampel-window.ts for the proof: min(dL, dR) <= MAD <= max(dL, dR)); only a point between the two
 * limits needs the exact MAD. The state carries over between calls: the caller passes each
 * centre once, in stream order.
 */
export class HampelBlock {
  readonly halfWidth: number;
  readonly k: number;
  readonly minSigma: number;
  private readonly width: number;
  /** Ascending window values (+Infinity for slots without one), the slot of each rank, the rank of each slot. */
  private readonly sorted: Float64Array;
  private readonly slotAt: Int32Array;
  private readonly rankOf: Int32Array;
  /** Per slot: 1 when it holds a value. */
  private readonly has: Uint8Array;
  private readonly q: number;
  private n = 0;
  private slot = 0;

  constructor(halfWidth: number, k: number, minSigma: number) {
    if (!Number.isInteger(halfWidth) || halfWidth < 1) throw new RangeError(`halfWidth must be >= 1, got ${halfWidth}`);
    this.halfWidth = halfWidth;
    this.k = k;
    this.minSigma = minSigma;
    this.width = 2 * halfWidth + 1;
    this.sorted = new Float64Array(this.width);
    this.slotAt = new Int32Array(this.width);
    this.rankOf = new Int32Array(this.width);
    this.has = new Uint8Array(this.width);
    this.q = Math.ceil(halfWidth / 2);
    this.clear();
  }

  /** Empties the window (start of stream, or after a flush). */
  clear(): void {
    this.sorted.fill(Number.POSITIVE_INFINITY);
    for (let i = 0; i < this.width; i++) {
      this.slotAt[i] = i;
      this.rankOf[i] = i;
    }
    this.has.fill(0);
    this.n = 0;
  }

  /**
   * Tests centres [from, to): sets `spike[j]` to 1 for each spike, 0 otherwise. `x[p]` takes part
   * only where `w[p]` is 1 (its value is then finite); a centre with `w[j]` 0, or fewer than h+1
   * values in its window, is never a spike. Enters positions [from + h, to + h); the window must
   * already hold [from - h, from + h) from earlier calls (or holes after `clear`).
   * @returns the number of spikes.
   */
  detect(x: Float64Array, w: Uint8Array, from: number, to: number, spike: Uint8Array): number {
    const h = this.halfWidth;
    const width = this.width;
    const sorted = this.sorted;
    const slotAt = this.slotAt;
    const rankOf = this.rankOf;
    const has = this.has;
    const k = this.k;
    const minSigma = this.minSigma;
    const q = this.q;
    let n = this.n;
    let slot = this.slot;
    let spikes = 0;
    for (let j = from; j < to; j++) {
      const e = w[j + h]!;
      const v = e === 1 ? x[j + h]! : Number.POSITIVE_INFINITY;
      n += e - has[slot]!;
      has[slot] = e;
      let r = rankOf[slot]!;
      if (r + 1 < width && sorted[r + 1]! < v) {
        do {
          const t = slotAt[r + 1]!;
          sorted[r] = sorted[r + 1]!;
          slotAt[r] = t;
          rankOf[t] = r;
          r++;
        } while (r + 1 < width && sorted[r + 1]! < v);
      } else {
        while (r > 0 && sorted[r - 1]! > v) {
          const t = slotAt[r - 1]!;
          sorted[r] = sorted[r - 1]!;
          slotAt[r] = t;
          rankOf[t] = r;
          r--;
        }
      }
      sorted[r] = v;
      slotAt[r] = slot;
      rankOf[slot] = r;
      slot = slot + 1 === width ? 0 : slot + 1;

      let out = 0;
      if (w[j] === 1 && n > h) {
        if (n === width) {
          const med = sorted[h]!;
          const dev = Math.abs(x[j]! - med);
          const dl = med - sorted[h - q]!;
          const dr = sorted[h + q]! - med;
          if (dev <= k * Math.max(1.4826 * Math.min(dl, dr), minSigma)) out = 0;
          else if (dev > k * Math.max(1.4826 * Math.max(dl, dr), minSigma)) out = 1;
          else out = dev > k * Math.max(1.4826 * sortedMad(sorted, n, med), minSigma) ? 1 : 0;
        } else {
          const med = sortedMedian(sorted, n);
          const dev = Math.abs(x[j]! - med);
          out = dev > k * Math.max(1.4826 * sortedMad(sorted, n, med), minSigma) ? 1 : 0;
        }
      }
      spike[j] = out;
      spikes += out;
    }
    this.n = n;
    this.slot = slot;
    return spikes;
  }
}

/** Median of the first n (> 0) entries of an ascending array. */
export function sortedMedian(s: Float64Array, n: number): number {
  const h = n >>> 1;
  return (n & 1) === 1 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

/**
 * Median of |s_i - median| over the first n (> 0) entries of an ascending array. The deviations
 * on each side of the median are already ordered, so merging both sides from the middle outwards
 * yields them in ascending order and we stop at the middle rank.
 */
export function sortedMad(s: Float64Array, n: number, median: number): number {
  let l = (n >>> 1) - 1;
  let r = n >>> 1;
  const hi = n >>> 1;
  const lo = (n & 1) === 1 ? hi : hi - 1;
  let prev = 0;
  for (let rank = 0; rank <= hi; rank++) {
    let d: number;
    if (l < 0) d = s[r++]! - median;
    else if (r >= n) d = median - s[l--]!;
    else if (median - s[l]! <= s[r]! - median) d = median - s[l--]!;
    else d = s[r++]! - median;
    if (rank === lo) prev = d;
    if (rank === hi) return (prev + d) / 2;
  }
  return prev;
}
