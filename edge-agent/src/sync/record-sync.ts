import type { Logger } from 'pino';
import type { ReadBatch } from '../buffer/reader.js';
import type { BatchPublisher, RecordBuffer, Watermark, WatermarkFeed } from './ports.js';
import { TokenBucket } from './token-bucket.js';

export interface SyncOptions {
  /** Records per message. @default 500 */
  batchRecords: number;
  /** Record bytes per message (stay under the stream's max message size). @default 512 KiB */
  batchBytes: number;
  /** Batches published and not yet acknowledged. @default 8 */
  maxInFlight: number;
  /** Upload cap in bytes per second; 0 = none. */
  bandwidthBytesPerS: number;
  /**
   * When records were acknowledged by the broker but the commit watermark has not moved for this
   * long, resend from the watermark: the broker may have lost them (a broker ack is not durability).
   */
  resendAfterMs: number;
  /** Back-off after a failed publish grows from min to max. */
  backoffMinMs: number;
  backoffMaxMs: number;
}

const SEND_CURSOR_PERSIST_MS = 200;

export const DEFAULT_SYNC_OPTIONS: SyncOptions = {
  batchRecords: 500,
  batchBytes: 512 * 1024,
  maxInFlight: 8,
  bandwidthBytesPerS: 0,
  resendAfterMs: 60_000,
  backoffMinMs: 250,
  backoffMaxMs: 10_000,
};

export interface SyncStats {
  batchesSent: number;
  recordsSent: number;
  bytesSent: number;
  publishFailures: number;
  rewinds: number;
  lastAckMs: number;
  lastCommitMs: number;
  committedSeq: number;
}

/**
 * Drains the durable buffer to the broker in order, pipelined, capped in bandwidth, with back-off;
 * the send cursor moves on broker acks, the commit cursor (and so reclaim) only on the control
 * plane's watermark. Survives outages of any length: it simply keeps retrying from the send cursor.
 */
export class RecordSync {
  readonly stats: SyncStats = {
    batchesSent: 0,
    recordsSent: 0,
    bytesSent: 0,
    publishFailures: 0,
    rewinds: 0,
    lastAckMs: 0,
    lastCommitMs: 0,
    committedSeq: 0,
  };
  private readonly opts: SyncOptions;
  private readonly bucket: TokenBucket;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private backingOff = false;
  private lastProgressMs: number;

  constructor(
    private readonly deps: {
      buffer: RecordBuffer;
      publisher: BatchPublisher;
      watermarks: WatermarkFeed;
      bufferId: string;
      log: Logger;
      now: () => number;
      options?: Partial<SyncOptions>;
    },
  ) {
    this.opts = { ...DEFAULT_SYNC_OPTIONS, ...deps.options };
    this.bucket = new TokenBucket(
      this.opts.bandwidthBytesPerS,
      Math.max(this.opts.batchBytes, this.opts.bandwidthBytesPerS),
    );
    this.lastProgressMs = deps.now();
  }

  async start(): Promise<void> {
    this.running = true;
    await this.deps.watermarks.start((w) => this.onWatermark(w));
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    await this.deps.watermarks.stop();
  }

  /** New records were appended: send them without waiting for the idle poll. */
  notify(): void {
    // New records end an idle wait, never a back-off: offline, that would retry every flush.
    if (!this.backingOff) this.wake?.();
  }

  private onWatermark(w: Watermark): void {
    if (w.bufferId !== this.deps.bufferId) return; // a watermark of this agent's previous buffer
    const head = this.deps.buffer.stats().headSeq;
    const seq = Math.min(w.committedSeq, head);
    if (seq <= this.stats.committedSeq) return;
    this.stats.committedSeq = seq;
    this.stats.lastCommitMs = this.deps.now();
    this.lastProgressMs = this.stats.lastCommitMs;
    this.deps.buffer
      .markCommitted(seq)
      .catch((err: unknown) => this.deps.log.warn({ err, seq }, 'sync.mark_committed_failed'));
  }

  private async run(): Promise<void> {
    let backoff = this.opts.backoffMinMs;
    while (this.running) {
      try {
        const sent = await this.drainOnce();
        backoff = this.opts.backoffMinMs;
        if (sent === 0) {
          await this.maybeRewind();
          await this.sleep(200);
        }
      } catch (err) {
        this.stats.publishFailures++;
        this.deps.log.warn({ err: String(err), backoffMs: backoff }, 'sync.publish_failed');
        this.backingOff = true;
        await this.sleep(backoff * (0.5 + Math.random()));
        this.backingOff = false;
        backoff = Math.min(backoff * 2, this.opts.backoffMaxMs);
      }
    }
  }

  /** Publishes everything unsent with up to maxInFlight batches in the air; returns records sent. */
  private async drainOnce(): Promise<number> {
    const { buffer, publisher } = this.deps;
    let after = buffer.stats().sendCursor;
    const inFlight: { batch: ReadBatch; ack: Promise<void> }[] = [];
    const spent: ReadBatch[] = [];
    let sent = 0;
    let acked = after;
    let lastMark = performance.now();
    let marking: Promise<void> | null = null;
    try {
      while (this.running) {
        if (inFlight.length < this.opts.maxInFlight) {
          const batch = await buffer.readUnsent(this.opts.batchRecords, this.opts.batchBytes, after, spent.pop());
          if (batch.count > 0) {
            await this.throttle(batch.bytes);
            // The batch covers (after, lastSeq]: dropped seqs at its start must not stall the watermark.
            const ack = publisher.publish(batch, after + 1);
            ack.catch(() => {}); // observed below, in order
            inFlight.push({ batch, ack });
            after = batch.lastSeq;
            continue;
          }
        }
        const head = inFlight.shift();
        if (!head) break;
        await head.ack;
        acked = head.batch.lastSeq;
        // The send cursor is persisted with an fsync: batch that work. After a crash, at most
        // this interval is resent, which the control plane deduplicates. The fsync runs beside
        // the pipeline (one at a time) instead of stalling reads and publishes; a failure surfaces
        // at the next mark or at the end of this drain.
        if (performance.now() - lastMark >= SEND_CURSOR_PERSIST_MS) {
          if (marking !== null) await marking;
          marking = buffer.markSent(acked);
          marking.catch(() => {}); // awaited above or in finally
          lastMark = performance.now();
        }
        this.stats.batchesSent++;
        this.stats.recordsSent += head.batch.count;
        this.stats.bytesSent += head.batch.bytes;
        this.stats.lastAckMs = this.deps.now();
        sent += head.batch.count;
        // Acknowledged: the publisher is done with the batch, so the next read may reuse its memory.
        spent.push(head.batch);
      }
    } finally {
      await Promise.allSettled(inFlight.map((f) => f.ack));
      if (marking !== null) await marking;
      if (acked > buffer.stats().sendCursor) await buffer.markSent(acked);
    }
    return sent;
  }

  private async throttle(bytes: number): Promise<void> {
    for (let wait = this.bucket.take(bytes); wait > 0 && this.running; wait = this.bucket.take(bytes))
      await this.sleep(wait);
  }

  private async maybeRewind(): Promise<void> {
    const s = this.deps.buffer.stats();
    if (s.sendCursor <= s.commitCursor) {
      this.lastProgressMs = this.deps.now();
      return;
    }
    // Commit progress only: while records keep flowing, fresh broker acks would otherwise postpone
    // the resend forever after the broker lost acknowledged records (the watermark waits at the gap).
    if (this.deps.now() - this.lastProgressMs < this.opts.resendAfterMs) return;
    this.stats.rewinds++;
    this.deps.log.warn({ sendCursor: s.sendCursor, commitCursor: s.commitCursor }, 'sync.rewind');
    await this.deps.buffer.rewindSendToCommitted();
    this.lastProgressMs = this.deps.now();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = undefined;
        resolve();
      };
    });
  }
}
