import type { IngestBatch, IngestRecord, StreamWatermark } from '../domain/records.js';
import type { CommitResult, RecordStore, SampleBlobStore, WatermarkPublisher } from './ports.js';
import { advance, type StreamProgress } from './watermark.js';

interface FakeStream extends StreamProgress {
  siteId: string;
  rows: Map<number, IngestRecord>;
}

/** In-memory RecordStore with the Postgres store's semantics, for unit tests. */
export class InMemoryRecordStore implements RecordStore {
  readonly streams = new Map<string, FakeStream>();
  failNext = false;

  async commit(batches: readonly IngestBatch[]): Promise<CommitResult> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('injected commit failure');
    }
    let inserted = 0;
    let duplicates = 0;
    const touched = new Map<string, StreamWatermark>();
    for (const b of batches) {
      const key = `${b.agentId}/${b.bufferId}`;
      const s = this.streams.get(key) ?? { siteId: b.siteId, committedSeq: 0, pending: [], rows: new Map() };
      for (const r of b.records) {
        if (s.rows.has(r.seq)) duplicates++;
        else {
          s.rows.set(r.seq, structuredClone(r));
          inserted++;
        }
      }
      Object.assign(s, advance(s, [[b.firstSeq, b.lastSeq]]));
      this.streams.set(key, s);
      touched.set(key, { siteId: b.siteId, agentId: b.agentId, bufferId: b.bufferId, committedSeq: s.committedSeq });
    }
    return { inserted, duplicates, streams: [...touched.values()] };
  }
}

export class InMemoryBlobStore implements SampleBlobStore {
  readonly objects = new Map<string, Uint8Array>();

  async put(key: string, bytes: Uint8Array): Promise<void> {
    this.objects.set(key, Uint8Array.from(bytes));
  }
}

export class InMemoryWatermarks implements WatermarkPublisher {
  readonly latest = new Map<string, StreamWatermark>();
  readonly puts: StreamWatermark[] = [];
  failNext = false;

  async publish(w: StreamWatermark): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('injected publish failure');
    }
    this.puts.push(w);
    this.latest.set(`${w.siteId}.${w.agentId}`, w);
  }
}
