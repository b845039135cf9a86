import type { Logger } from 'pino';
import { type IngestBatch, type RecordKind, type StreamWatermark, sampleKey } from '../domain/records.js';
import type { Delivery, IngestMetrics, RecordStore, SampleBlobStore, WatermarkPublisher } from './ports.js';

export interface RecordIngestDeps {
  store: RecordStore;
  blobs: SampleBlobStore;
  watermarks: WatermarkPublisher;
  metrics: IngestMetrics;
  log: Logger;
  now: () => number;
  /** Parallel blob uploads per flush. @default 8 */
  blobConcurrency?: number;
  /** Redelivery delay after a failed commit. @default 1000 */
  retryDelayMs?: number;
}

/**
 * Stores a group of record batches exactly once in effect: sample bytes to the blob store first (so
 * no index row points at a missing object), then one transaction, then acks, then one watermark per
 * agent. A crash before the commit means redelivery, which the store ignores as duplicates.
 */
export class RecordIngest {
  /** Watermarks whose publish failed, retried on the next flush so an idle agent still learns them. */
  private unpublished = new Map<string, StreamWatermark>();

  constructor(private readonly deps: RecordIngestDeps) {}

  async flush(deliveries: readonly Delivery[]): Promise<void> {
    if (deliveries.length > 0 && !(await this.commit(deliveries))) return;
    await this.publishWatermarks();
  }

  private async commit(deliveries: readonly Delivery[]): Promise<boolean> {
    const started = this.deps.now();
    const batches = deliveries.map((d) => d.batch);
    try {
      await this.uploadSamples(batches);
      const res = await this.deps.store.commit(batches);
      for (const d of deliveries) d.ack();
      const done = this.deps.now();
      for (const b of batches) this.deps.metrics.lag(done - b.sentAtMs);
      this.deps.metrics.flushed({
        batches: batches.length,
        byKind: countByKind(batches),
        duplicates: res.duplicates,
        durationMs: done - started,
      });
      for (const w of res.streams) this.unpublished.set(`${w.siteId}.${w.agentId}`, w);
      return true;
    } catch (err) {
      for (const d of deliveries) d.nak(this.deps.retryDelayMs ?? 1000);
      this.deps.log.warn({ err, batches: batches.length }, 'ingest.records.flush_failed');
      return false;
    }
  }

  /** Uploads raw sample bytes and leaves only their key and size in the record body. */
  private async uploadSamples(batches: readonly IngestBatch[]): Promise<void> {
    const jobs: (() => Promise<void>)[] = [];
    for (const b of batches) {
      for (const r of b.records) {
        const blob = r.blob;
        if (!blob) continue;
        const key = sampleKey({
          ...blob,
          siteId: b.siteId,
          agentId: b.agentId,
          bufferId: b.bufferId,
          seq: r.seq,
          tsMs: r.tsMs,
        });
        jobs.push(async () => {
          await this.deps.blobs.put(key, blob.bytes);
          r.body.blob = { key, bytes: blob.bytes.length };
          delete r.blob;
        });
      }
    }
    await runLimited(jobs, this.deps.blobConcurrency ?? 8);
  }

  private async publishWatermarks(): Promise<void> {
    const todo = [...this.unpublished];
    this.unpublished.clear();
    await Promise.all(
      todo.map(async ([key, w]) => {
        try {
          await this.deps.watermarks.publish(w);
        } catch (err) {
          if (!this.unpublished.has(key)) this.unpublished.set(key, w);
          this.deps.log.warn({ err, agentId: w.agentId }, 'ingest.records.watermark_failed');
        }
      }),
    );
  }
}

function countByKind(batches: readonly IngestBatch[]): Map<RecordKind, number> {
  const out = new Map<RecordKind, number>();
  for (const b of batches) for (const r of b.records) out.set(r.kind, (out.get(r.kind) ?? 0) + 1);
  return out;
}

async function runLimited(jobs: (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) await jobs[next++]!();
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
}
