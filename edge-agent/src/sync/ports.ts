import type { ReadBatch } from '../buffer/reader.js';
import type { BufferStats } from '../buffer/types.js';

/** What sync needs from the durable buffer. */
export interface RecordBuffer {
  /** `reuse`: an acknowledged batch whose memory the read may reuse (see DurableBuffer.readUnsent). */
  readUnsent(maxRecords: number, maxBytes: number, afterSeq?: number, reuse?: ReadBatch): Promise<ReadBatch>;
  markSent(seq: number): Promise<void>;
  markCommitted(seq: number): Promise<void>;
  rewindSendToCommitted(): Promise<void>;
  stats(): BufferStats;
}

/** Sends one batch of buffer records upstream; resolves when the broker acknowledged it. */
export interface BatchPublisher {
  /**
   * The batch must not be used once the returned promise settles: sync then reuses its memory.
   * `fromSeq`: first seq the batch accounts for (the read's afterSeq + 1). Seqs between it and the
   * batch's first record are gone from the buffer (evicted, expired, lost to a torn tail, or assigned
   * to an append that failed); claiming them lets the cloud's watermark pass the gap.
   * @default the batch's first record
   */
  publish(batch: ReadBatch, fromSeq?: number): Promise<void>;
}

export interface Watermark {
  bufferId: string;
  committedSeq: number;
}

/** Delivers the control plane's end-to-end commit watermark for this agent as it moves. */
export interface WatermarkFeed {
  start(onWatermark: (w: Watermark) => void): Promise<void>;
  stop(): Promise<void>;
}
