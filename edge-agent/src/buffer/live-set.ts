/**
 * The set of seqs still stored in one segment. Appends keep a segment dense (every seq from its
 * first to its last), which costs nothing to represent; only after compaction or a gap does it
 * fall back to a bitmap of one bit per seq in the segment's span (~40 KB for 64 MiB of 200-byte
 * records), so exact unsent/uncommitted counts never need a disk scan.
 */
const POPCOUNT = new Uint8Array(256);
for (let i = 1; i < 256; i++) POPCOUNT[i] = (i & 1) + POPCOUNT[i >> 1]!;

export class LiveSet {
  /** Highest seq ever added (base - 1 when empty). */
  last: number;
  count = 0;
  private bits: Uint8Array | null = null;

  /** @param base the lowest seq the segment may hold (its name). */
  constructor(readonly base: number) {
    this.last = base - 1;
  }

  get dense(): boolean {
    return this.bits === null;
  }

  /** Adds `seq`, which must be above every seq added before. */
  add(seq: number): void {
    if (this.bits === null && seq === this.last + 1 && (this.count > 0 || seq === this.base)) {
      this.last = seq;
      this.count++;
      return;
    }
    this.ensureBits(seq);
    const i = seq - this.base;
    this.bits![i >>> 3]! |= 1 << (i & 7);
    this.last = seq;
    this.count++;
  }

  has(seq: number): boolean {
    if (seq < this.base || seq > this.last) return false;
    if (this.bits === null) return this.count > 0;
    const i = seq - this.base;
    return (this.bits[i >>> 3]! & (1 << (i & 7))) !== 0;
  }

  /** Number of stored seqs in the half-open range (lo, hi]. */
  countIn(lo: number, hi: number): number {
    const from = Math.max(lo + 1, this.base);
    const to = Math.min(hi, this.last);
    if (this.count === 0 || to < from) return 0;
    if (this.bits === null) return to - from + 1;
    let i = from - this.base;
    const end = to - this.base + 1;
    let n = 0;
    while (i < end && (i & 7) !== 0) n += (this.bits[i >>> 3]! >> (i++ & 7)) & 1;
    while (i + 8 <= end) {
      n += POPCOUNT[this.bits[i >>> 3]!]!;
      i += 8;
    }
    while (i < end) n += (this.bits[i >>> 3]! >> (i++ & 7)) & 1;
    return n;
  }

  private ensureBits(seq: number): void {
    const need = ((seq - this.base) >>> 3) + 1;
    if (this.bits !== null && this.bits.length >= need) return;
    const grown = new Uint8Array(Math.max(need * 2, 64));
    if (this.bits !== null) grown.set(this.bits);
    else if (this.count > 0)
      for (let s = this.base; s <= this.last; s++) grown[(s - this.base) >>> 3]! |= 1 << ((s - this.base) & 7);
    this.bits = grown;
  }
}
