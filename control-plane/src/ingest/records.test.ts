import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { IngestBatch, IngestRecord } from '../domain/records.js';
import { InMemoryBlobStore, InMemoryRecordStore, InMemoryWatermarks } from './fakes.js';
import { type Delivery, noMetrics } from './ports.js';
import { RecordIngest } from './records.js';

const TS = Date.UTC(2026, 10, 3, 12);

function prediction(seq: number): IngestRecord {
  return { seq, tsMs: TS, class: 2, kind: 'prediction', modelVersion: 'v1', score: 0.5, decision: 1, body: { seq } };
}

function batch(first: number, last: number, agentId = 'a1', records = range(first, last).map(prediction)): IngestBatch {
  return { agentId, siteId: 's1', bufferId: 'buf', firstSeq: first, lastSeq: last, sentAtMs: TS, records };
}

function range(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

function delivery(b: IngestBatch, log: string[]): Delivery {
  return { batch: b, ack: () => log.push(`ack ${b.firstSeq}`), nak: () => log.push(`nak ${b.firstSeq}`) };
}

function setup() {
  const store = new InMemoryRecordStore();
  const blobs = new InMemoryBlobStore();
  const watermarks = new InMemoryWatermarks();
  const ingest = new RecordIngest({
    store,
    blobs,
    watermarks,
    metrics: noMetrics,
    log: pino({ level: 'silent' }),
    now: () => TS,
  });
  return { store, blobs, watermarks, ingest };
}

describe('record ingest', () => {
  it('acks after the commit and publishes one watermark per agent per flush', async () => {
    const { ingest, watermarks, store } = setup();
    const log: string[] = [];
    await ingest.flush([delivery(batch(1, 10), log), delivery(batch(11, 20), log), delivery(batch(1, 5, 'a2'), log)]);
    expect(log).toEqual(['ack 1', 'ack 11', 'ack 1']);
    expect(watermarks.puts.map((w) => [w.agentId, w.committedSeq])).toEqual([
      ['a1', 20],
      ['a2', 5],
    ]);
    expect(store.streams.get('a1/buf')?.rows.size).toBe(20);
  });

  it('naks and publishes nothing when the commit fails, then succeeds on redelivery', async () => {
    const { ingest, watermarks, store } = setup();
    const log: string[] = [];
    store.failNext = true;
    await ingest.flush([delivery(batch(1, 10), log)]);
    expect(log).toEqual(['nak 1']);
    expect(watermarks.puts).toEqual([]);
    await ingest.flush([delivery(batch(1, 10), log)]);
    expect(watermarks.latest.get('s1.a1')?.committedSeq).toBe(10);
  });

  it('retries a failed watermark publish on the next flush even without new batches', async () => {
    const { ingest, watermarks } = setup();
    watermarks.failNext = true;
    await ingest.flush([delivery(batch(1, 10), [])]);
    expect(watermarks.latest.size).toBe(0);
    await ingest.flush([]);
    expect(watermarks.latest.get('s1.a1')?.committedSeq).toBe(10);
  });

  it('puts sample bytes in the blob store and keeps only the key and size in the body', async () => {
    const { ingest, blobs, store } = setup();
    const bytes = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const sample: IngestRecord = {
      seq: 1,
      tsMs: TS,
      class: 4,
      kind: 'sample',
      body: { seq: 1, sample: {} },
      blob: { model: 'bearing', modelVersion: '1.2.0', bytes },
    };
    await ingest.flush([delivery(batch(1, 1, 'a1', [sample]), [])]);
    const key = 'datasets/bearing/1.2.0/s1/2026-11-03/a1-buf-1.bin';
    expect(blobs.objects.get(key)).toEqual(bytes);
    const row = store.streams.get('a1/buf')?.rows.get(1);
    expect(row?.body.blob).toEqual({ key, bytes: 8 });
    expect(row?.blob).toBeUndefined();
  });
});
