import { RecordBatch, RecordClass, Record as RecordPb } from '@millwright/proto';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeRecordBatch } from '../adapters/nats/records.js';
import { DurableBuffer } from '../buffer/durable-buffer.js';
import type { ReadBatch } from '../buffer/reader.js';
import { tempDir } from '../buffer/test-support.js';
import type { Watermark } from './ports.js';
import { RecordSync } from './record-sync.js';
import { TokenBucket } from './token-bucket.js';

const log = pino({ level: 'silent' });

function predictionBody(score: number): Uint8Array {
  return RecordPb.encode({
    seq: 0,
    tsMs: 1_000,
    class: RecordClass.RECORD_CLASS_PREDICTION,
    body: {
      $case: 'prediction',
      value: {
        predictionId: '',
        model: 'm',
        modelVersion: 'v1',
        score,
        decision: 1,
        reasons: [],
        latencyUs: 3,
        windowStartMs: 0,
        windowEndMs: 0,
        asset: 'a',
        inputBadFraction: 0,
      },
    },
  }).finish();
}

class FakePublisher {
  batches: ReadBatch[] = [];
  failNext = 0;
  /** The first seq each published batch accounted for. */
  froms: (number | undefined)[] = [];
  async publish(batch: ReadBatch, fromSeq?: number): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('no responders');
    }
    this.froms.push(fromSeq);
    // Copy: the buffer may reuse its read buffers.
    this.batches.push({ ...batch, seqs: batch.seqs.slice(), data: Buffer.from(batch.data) });
  }
  seqs(): number[] {
    return this.batches.flatMap((b) => Array.from(b.seqs.subarray(0, b.count)));
  }
}

class FakeFeed {
  cb: ((w: Watermark) => void) | undefined;
  async start(cb: (w: Watermark) => void) {
    this.cb = cb;
  }
  async stop() {}
}

async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('RecordSync', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  async function setup(options: Record<string, number> = {}) {
    const t = await tempDir();
    const buffer = await DurableBuffer.open({ dir: t.dir, capacityBytes: 64 * 1024 * 1024, segmentBytes: 1024 * 1024 });
    const publisher = new FakePublisher();
    const feed = new FakeFeed();
    let now = 0;
    const sync = new RecordSync({
      buffer,
      publisher,
      watermarks: feed,
      bufferId: 'b1',
      log,
      now: () => now,
      options: { backoffMinMs: 5, backoffMaxMs: 20, ...options },
    });
    cleanups.push(async () => {
      await sync.stop();
      await buffer.close();
      await t.cleanup();
    });
    return { buffer, publisher, feed, sync, advance: (ms: number) => (now += ms) };
  }

  it('sends every record once, in order, and moves the send cursor on acks', async () => {
    const { buffer, publisher, sync } = await setup({ batchRecords: 7 });
    await buffer.append(
      Array.from({ length: 50 }, (_, i) => ({ cls: 'PREDICTION' as const, tsMs: i, body: predictionBody(i) })),
    );
    await sync.start();
    await until(() => buffer.stats().sendCursor === 50);
    expect(publisher.seqs()).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(publisher.batches.every((b) => b.count <= 7)).toBe(true);
  });

  it('keeps publishing while a send-cursor fsync is slow, and persists the last acked seq at the end', async () => {
    const { buffer, publisher, sync } = await setup({ batchRecords: 1, maxInFlight: 1 });
    const realMarkSent = buffer.markSent.bind(buffer);
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const marks: number[] = [];
    buffer.markSent = async (seq: number) => {
      marks.push(seq);
      if (marks.length === 1) await gate; // the first periodic persist hangs until released
      return realMarkSent(seq);
    };
    const realPublish = publisher.publish.bind(publisher);
    publisher.publish = async (batch) => {
      await new Promise((r) => setTimeout(r, 2));
      return realPublish(batch);
    };
    await buffer.append(
      Array.from({ length: 400 }, (_, i) => ({ cls: 'PREDICTION' as const, tsMs: i, body: predictionBody(i) })),
    );
    await sync.start();
    try {
      await until(() => marks.length === 1);
      const publishedAtHang = publisher.batches.length;
      // Publishing goes on while the first persist has not returned.
      await until(() => publisher.batches.length > publishedAtHang + 5);
      expect(marks).toHaveLength(1);
    } finally {
      release();
    }
    await until(() => buffer.stats().sendCursor === 400);
    expect(publisher.seqs()).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
  });

  it('retries after publish failures without losing or reordering records', async () => {
    const { buffer, publisher, sync } = await setup({ batchRecords: 5, maxInFlight: 1 });
    publisher.failNext = 3;
    await buffer.append(
      Array.from({ length: 20 }, (_, i) => ({ cls: 'PREDICTION' as const, tsMs: i, body: predictionBody(i) })),
    );
    await sync.start();
    await until(() => buffer.stats().sendCursor === 20);
    expect(publisher.seqs()).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(sync.stats.publishFailures).toBe(3);
  });

  it('reclaims only on the watermark of its own buffer', async () => {
    const { buffer, feed, sync } = await setup();
    await buffer.append(
      Array.from({ length: 10 }, (_, i) => ({ cls: 'PREDICTION' as const, tsMs: i, body: predictionBody(i) })),
    );
    await sync.start();
    await until(() => buffer.stats().sendCursor === 10);
    feed.cb?.({ bufferId: 'other', committedSeq: 10 });
    expect(buffer.stats().commitCursor).toBe(0);
    feed.cb?.({ bufferId: 'b1', committedSeq: 6 });
    await until(() => buffer.stats().commitCursor === 6);
  });

  it('resends from the watermark when the broker acknowledged but the cloud never committed', async () => {
    const { buffer, publisher, feed, sync, advance } = await setup({ resendAfterMs: 1_000 });
    await buffer.append(
      Array.from({ length: 10 }, (_, i) => ({ cls: 'PREDICTION' as const, tsMs: i, body: predictionBody(i) })),
    );
    await sync.start();
    await until(() => buffer.stats().sendCursor === 10);
    feed.cb?.({ bufferId: 'b1', committedSeq: 4 });
    await until(() => buffer.stats().commitCursor === 4);
    advance(1_500);
    await until(() => sync.stats.rewinds === 1 && publisher.seqs().length >= 16, 15_000);
    expect(publisher.seqs().slice(10)).toEqual([5, 6, 7, 8, 9, 10]);
  });

  it('resends after resendAfterMs without commit progress even while new records keep being acknowledged', async () => {
    const { buffer, feed, sync, advance } = await setup({ resendAfterMs: 1_000 });
    const append = (n: number) =>
      buffer.append(
        Array.from({ length: n }, (_, i) => ({ cls: 'PREDICTION' as const, tsMs: i, body: predictionBody(i) })),
      );
    await append(10);
    await sync.start();
    await until(() => buffer.stats().sendCursor === 10);
    feed.cb?.({ bufferId: 'b1', committedSeq: 4 });
    await until(() => buffer.stats().commitCursor === 4);
    for (let i = 1; i <= 3 && sync.stats.rewinds === 0; i++) {
      advance(600);
      await append(1);
      sync.notify();
      await until(() => buffer.stats().sendCursor >= 10 + i || sync.stats.rewinds > 0);
    }
    await until(() => sync.stats.rewinds > 0, 5_000);
  });

  it('accounts for seqs the buffer dropped between the send cursor and the next record', async () => {
    const t = await tempDir();
    let now = 1_000_000;
    const buffer = await DurableBuffer.open({
      dir: t.dir,
      capacityBytes: 64 * 1024 * 1024,
      segmentBytes: 1024 * 1024,
      ttlMs: { TELEMETRY: 1_000 },
      clock: () => now,
    });
    const publisher = new FakePublisher();
    const sync = new RecordSync({
      buffer,
      publisher,
      watermarks: new FakeFeed(),
      bufferId: 'b1',
      log,
      now: () => now,
      options: { batchRecords: 5 },
    });
    cleanups.push(async () => {
      await sync.stop();
      await buffer.close();
      await t.cleanup();
    });
    const rec = (cls: 'PREDICTION' | 'TELEMETRY', tsMs: number) => ({ cls, tsMs, body: predictionBody(0) });
    await buffer.append([...Array(5)].map(() => rec('PREDICTION', now)));
    await buffer.append([...Array(5)].map(() => rec('TELEMETRY', now - 10_000)));
    await buffer.append([...Array(5)].map(() => rec('PREDICTION', now)));
    now += 1;
    await buffer.enforceRetention();
    await sync.start();
    await until(() => buffer.stats().sendCursor === 15);
    expect(publisher.seqs()).toEqual([1, 2, 3, 4, 5, 11, 12, 13, 14, 15]);
    expect(publisher.froms).toEqual([1, 6]);
  });
});

describe('encodeRecordBatch', () => {
  it('produces a RecordBatch whose records decode with their seqs', async () => {
    const t = await tempDir();
    const buffer = await DurableBuffer.open({ dir: t.dir, capacityBytes: 64 * 1024 * 1024, segmentBytes: 1024 * 1024 });
    await buffer.append(
      [0.25, 0.5, 0.75].map((s) => ({ cls: 'PREDICTION' as const, tsMs: 5, body: predictionBody(s) })),
    );
    const batch = await buffer.readUnsent(10, 1 << 20);
    const decoded = RecordBatch.decode(
      encodeRecordBatch({ agentId: 'a1', siteId: 's1', bufferId: 'b1', sentAtMs: 9 }, batch),
    );
    expect(decoded).toMatchObject({
      agentId: 'a1',
      siteId: 's1',
      bufferId: 'b1',
      firstSeq: 1,
      lastSeq: 3,
      sentAtMs: 9,
    });
    expect(decoded.records.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(decoded.records.map((r) => (r.body?.$case === 'prediction' ? r.body.value.score : NaN))).toEqual([
      0.25, 0.5, 0.75,
    ]);
    await buffer.close();
    await t.cleanup();
  });

  /**
   * A batch of `records` laid out in one buffer: placed in memory in the order `place` (record
   * indexes), each after a gap of `gaps[k]` bytes.
   */
  function laidOut(records: Uint8Array[], gaps: number[], place = records.map((_, i) => i)): ReadBatch {
    const data = Buffer.alloc(records.reduce((s, r) => s + r.length, 0) + gaps.reduce((s, g) => s + g, 0));
    const starts = new Uint32Array(records.length);
    const ends = new Uint32Array(records.length);
    let off = 0;
    place.forEach((i, k) => {
      off += gaps[k]!;
      data.set(records[i]!, off);
      starts[i] = off;
      off += records[i]!.length;
      ends[i] = off;
    });
    return {
      count: records.length,
      seqs: Float64Array.from(records, (_, i) => i + 1),
      tsMs: new Float64Array(records.length),
      codes: new Uint8Array(records.length).fill(4),
      data,
      starts,
      ends,
      bytes: records.reduce((s, r) => s + r.length, 0),
      lastSeq: records.length,
    };
  }

  it('encodes records however they lie in the batch: with gaps, back to back, or out of order', () => {
    // Records with 1-byte and 2-byte length varints (<128 and >=128 bytes).
    const records = [0.1, 0.2, 0.3, 0.4, 0.5].map((s, i) => {
      const r = RecordPb.decode(predictionBody(s));
      r.seq = i + 1;
      if (i % 2 === 1 && r.body?.$case === 'prediction') r.body.value.model = 'm'.repeat(150);
      return RecordPb.encode(r).finish();
    });
    const layouts: Array<[string, number[], number[]?]> = [
      ['frame gaps', [0, 16, 20, 17, 30]],
      ['back to back', [0, 0, 0, 0, 0]],
      ['gaps, then too small a gap', [0, 16, 16, 1, 16]],
      ['gaps, then out of order', [0, 16, 16, 16, 16], [0, 1, 3, 2, 4]],
    ];
    for (const [name, gaps, place] of layouts) {
      const decoded = RecordBatch.decode(
        encodeRecordBatch(
          { agentId: 'a1', siteId: 's1', bufferId: 'b1', sentAtMs: 9, firstSeq: 1 },
          laidOut(records, gaps, place),
        ),
      );
      expect(
        decoded.records.map((r) => Buffer.from(RecordPb.encode(r).finish())),
        name,
      ).toEqual(records.map((r) => Buffer.from(r)));
      expect(decoded, name).toMatchObject({ agentId: 'a1', bufferId: 'b1', firstSeq: 1, lastSeq: 5, sentAtMs: 9 });
    }
  });
});

describe('TokenBucket', () => {
  it('lets a burst through, then paces to the configured rate', () => {
    let now = 0;
    const b = new TokenBucket(1000, 1000, () => now);
    expect(b.take(1000)).toBe(0);
    expect(b.take(500)).toBe(500);
    now += 500;
    expect(b.take(500)).toBe(0);
  });
});
