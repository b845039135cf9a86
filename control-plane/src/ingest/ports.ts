import type { IngestBatch, RecordKind, StreamWatermark } from '../domain/records.js';

/** Where captured samples' raw bytes go (S3 in production). Puts are idempotent: same key, same bytes. */
export interface SampleBlobStore {
  put(key: string, bytes: Uint8Array): Promise<void>;
}

export interface CommitResult {
  inserted: number;
  /** Records already stored (redelivery or a resend beyond the broker's dedupe window). */
  duplicates: number;
  /** The watermark of every stream the commit touched, after the commit. */
  streams: StreamWatermark[];
}

/** Durable, idempotent record storage (Postgres in production). */
export interface RecordStore {
  /**
   * Stores the batches' records in one transaction, ignoring (stream, seq) already stored, and
   * advances each stream's committed seq as far as stored ranges are contiguous.
   */
  commit(batches: readonly IngestBatch[]): Promise<CommitResult>;
}

/** Tells agents how far their records are durably stored (KV `mw_watermark`). */
export interface WatermarkPublisher {
  /** Publishes one watermark per agent; never moves an agent's watermark of the same buffer backwards. */
  publish(w: StreamWatermark): Promise<void>;
}

/** A received batch and how to settle its message with the broker. */
export interface Delivery {
  batch: IngestBatch;
  ack(): void;
  /** Redeliver later (the commit failed). */
  nak(delayMs: number): void;
}

export interface IngestMetrics {
  flushed(s: {
    batches: number;
    byKind: ReadonlyMap<RecordKind, number>;
    duplicates: number;
    durationMs: number;
  }): void;
  /** Now minus the batch's sent_at, at commit. */
  lag(ms: number): void;
}

export const noMetrics: IngestMetrics = { flushed: () => {}, lag: () => {} };
