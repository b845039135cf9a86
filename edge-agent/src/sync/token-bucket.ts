/**
 * Upload bandwidth cap: plants share thin links. Bytes are taken before a batch is sent; a batch
 * larger than the burst waits until the bucket is full, then goes (so big batches never starve).
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly bytesPerSecond: number,
    private readonly burstBytes: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burstBytes;
    this.last = now();
  }

  /** Milliseconds to wait before `bytes` may be sent; 0 when they may go now (and are taken). */
  take(bytes: number): number {
    if (!Number.isFinite(this.bytesPerSecond) || this.bytesPerSecond <= 0) return 0;
    const t = this.now();
    this.tokens = Math.min(this.burstBytes, this.tokens + ((t - this.last) / 1000) * this.bytesPerSecond);
    this.last = t;
    const need = Math.min(bytes, this.burstBytes);
    if (this.tokens >= need) {
      this.tokens -= bytes;
      return 0;
    }
    return Math.ceil(((need - this.tokens) / this.bytesPerSecond) * 1000);
  }
}
