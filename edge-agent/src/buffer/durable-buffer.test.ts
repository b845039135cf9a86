import { readdir } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { DurableBuffer } from './durable-buffer.js';
import { BufferFullError } from './errors.js';
import { RECORD_CLASS_CODE } from './record-class.js';
import { decodeSeqField, entry, readAll, tempDir } from './test-support.js';
import type { BufferOptions } from './types.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function setup(extra: Partial<BufferOptions> = {}): Promise<{ dir: string; opts: BufferOptions }> {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  return { dir: t.dir, opts: { dir: t.dir, capacityBytes: 1 << 20, segmentBytes: 8192, ...extra } };
}

describe('DurableBuffer', () => {
  it('returns appended records with their seq field prepended, and keeps seqs and cursors across reopen', async () => {
    const { opts } = await setup();
    let buf = await DurableBuffer.open(opts);
    const first = await buf.append([entry('TELEMETRY', 1), entry('ALERT', 2), entry('LABEL', 3)]);
    expect(first).toBe(1);
    await buf.append(Array.from({ length: 300 }, (_, i) => entry('PREDICTION', 10 + i)));
    await buf.markSent(2);
    await buf.close();

    buf = await DurableBuffer.open(opts);
    expect(buf.openReport.tornTail).toBeNull();
    expect(buf.openReport.corruptions).toEqual([]);
    expect(buf.openReport.records).toBe(303);
    const s = buf.stats();
    expect(s).toMatchObject({ headSeq: 303, sendCursor: 2, commitCursor: 0, unsent: 301, uncommitted: 303 });
    expect(s.segments).toBeGreaterThan(1);

    const all = await readAll(buf);
    expect(all.seqs).toEqual(Array.from({ length: 301 }, (_, i) => i + 3));
    const third = all.records[0]!;
    const { seq, bodyOffset } = decodeSeqField(third);
    expect(seq).toBe(3);
    expect(Buffer.from(third.subarray(bodyOffset))).toEqual(Buffer.from(entry('LABEL', 3).body));
    expect(all.codes[0]).toBe(RECORD_CLASS_CODE.LABEL);

    expect(await buf.append([entry('TELEMETRY', 9)])).toBe(304);
    await buf.close();
  });

  it('resolves every concurrent producer after one shared group commit, with ordered seqs', async () => {
    const commits: number[] = [];
    const { opts } = await setup({
      segmentBytes: 1 << 20,
      capacityBytes: 8 << 20,
      onGroupCommit: (n) => commits.push(n),
    });
    const buf = await DurableBuffer.open(opts);
    const calls = Array.from({ length: 50 }, (_, p) => buf.append([entry('TELEMETRY', p), entry('TELEMETRY', p)]));
    const firsts = await Promise.all(calls);
    expect(firsts).toEqual(Array.from({ length: 50 }, (_, p) => 1 + 2 * p));
    expect(commits).toEqual([100]);
    expect(buf.stats().headSeq).toBe(100);
    await buf.close();
  });

  it('reads from any afterSeq and starts over from the commit cursor after a rewind', async () => {
    const { opts } = await setup();
    const buf = await DurableBuffer.open(opts);
    await buf.append(Array.from({ length: 200 }, (_, i) => entry('TELEMETRY', i)));
    const b1 = await buf.readUnsent(10, 1 << 20);
    expect(Array.from(b1.seqs)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const b2 = await buf.readUnsent(10, 1 << 20, b1.lastSeq);
    expect(b2.seqs[0]).toBe(11);
    const small = await buf.readUnsent(100, 100, 150);
    expect(Array.from(small.seqs)).toEqual([151, 152]);
    await buf.markSent(150);
    await buf.markCommitted(40);
    expect(buf.stats()).toMatchObject({ unsent: 50, uncommitted: 160 });
    await buf.rewindSendToCommitted();
    expect(buf.stats()).toMatchObject({ sendCursor: 40, unsent: 160 });
    expect((await buf.readUnsent(1, 1 << 20)).seqs[0]).toBe(41);
    await buf.close();
  });

  it('serves batches from read-ahead spans byte for byte: across appends, going back, reclaim and compaction', async () => {
    const { opts } = await setup({ segmentBytes: 64 * 1024, capacityBytes: 256 * 1024, evictionOrder: ['TELEMETRY'] });
    const buf = await DurableBuffer.open(opts);
    const want = (seq: number): Buffer => Buffer.from(entry('TELEMETRY', seq, 60 + (seq % 50)).body);
    const appendUpTo = async (from: number, to: number): Promise<void> => {
      await buf.append(
        Array.from({ length: to - from + 1 }, (_, i) => entry('TELEMETRY', from + i, 60 + ((from + i) % 50))),
      );
    };
    const check = (b: Awaited<ReturnType<DurableBuffer['readUnsent']>>, expectFirst: number): void => {
      for (let i = 0; i < b.count; i++) {
        const rec = b.data.subarray(b.starts[i]!, b.ends[i]!);
        const { seq, bodyOffset } = decodeSeqField(rec);
        expect(seq).toBe(expectFirst + i);
        expect(b.seqs[i]).toBe(seq);
        expect(Buffer.from(rec.subarray(bodyOffset))).toEqual(want(seq));
      }
    };
    await appendUpTo(1, 300);
    // Small batches from one span, interleaved with appends to the active segment.
    const held: Array<Awaited<ReturnType<DurableBuffer['readUnsent']>>> = [];
    let after = 0;
    for (let round = 0; round < 6; round++) {
      const b = await buf.readUnsent(37, 1 << 20, after);
      check(b, after + 1);
      held.push(b);
      after = b.lastSeq;
      await appendUpTo(301 + round * 10, 310 + round * 10);
    }
    // Earlier batches still hold their bytes after later reads of the same span.
    let first = 1;
    for (const b of held) {
      check(b, first);
      first = b.lastSeq + 1;
    }
    // Going back re-reads (and verifies) from the file: no false corruption.
    for (const from of [0, 5, 100]) {
      const b = await buf.readUnsent(50, 1 << 20, from);
      expect(b.count).toBeGreaterThan(0);
      check(b, from + 1);
    }
    const all = await readAll(buf, 0);
    expect(all.seqs).toEqual(Array.from({ length: 360 }, (_, i) => i + 1));
    // Reclaim deletes read segments (their handles are closed); reading goes on where it was.
    await buf.markCommitted(200);
    const rest = await readAll(buf, 200);
    expect(rest.seqs).toEqual(Array.from({ length: 160 }, (_, i) => i + 201));
    // Eviction rewrites segments (new files under the same names): reads see the new files.
    await buf.markCommitted(250);
    // Read into a span of the oldest live segment first, so eviction must invalidate it.
    check(await buf.readUnsent(5, 1 << 20, 250), 251);
    for (let from = 361; from <= 3400; from += 200) await appendUpTo(from, from + 199);
    expect(buf.stats().drops.evicted.TELEMETRY.records).toBeGreaterThan(0);
    const afterEvict = await readAll(buf, 250);
    expect(afterEvict.seqs.length).toBeGreaterThan(0);
    for (let i = 0; i < afterEvict.seqs.length; i++) {
      const { seq, bodyOffset } = decodeSeqField(afterEvict.records[i]!);
      expect(seq).toBe(afterEvict.seqs[i]);
      expect(Buffer.from(afterEvict.records[i]!.subarray(bodyOffset))).toEqual(want(seq));
    }
    expect(buf.stats().drops.corruptions).toEqual([]);
    await buf.close();
  });

  it('reads the same records into a reused batch as into new ones, growing it when a batch needs more', async () => {
    const { opts } = await setup({ segmentBytes: 64 * 1024, capacityBytes: 1 << 20 });
    const buf = await DurableBuffer.open(opts);
    await buf.append(Array.from({ length: 900 }, (_, i) => entry('TELEMETRY', i + 1, 30 + (i % 90))));
    const fresh = await readAll(buf, 0);
    let spare: Awaited<ReturnType<DurableBuffer['readUnsent']>> | undefined;
    let reused = 0;
    let after = 0;
    const seqs: number[] = [];
    const records: Buffer[] = [];
    // Batch sizes go up and down, so the spare batch is sometimes too small and must grow.
    for (let k = 0; ; k++) {
      const before = spare?.data.buffer;
      const b = await buf.readUnsent([5, 60, 3, 200][k % 4]!, 1 << 20, after, spare);
      if (b.count === 0) break;
      if (b.data.buffer === before) reused++;
      for (let i = 0; i < b.count; i++) {
        seqs.push(b.seqs[i]!);
        records.push(Buffer.from(b.data.subarray(b.starts[i]!, b.ends[i]!)));
      }
      after = b.lastSeq;
      spare = b;
    }
    expect(seqs).toEqual(fresh.seqs);
    expect(records).toEqual(fresh.records.map((r) => Buffer.from(r)));
    expect(reused).toBeGreaterThan(0);
    await buf.close();
  });

  it('serves concurrent reads one at a time, each with its own verified records', async () => {
    const { opts } = await setup({ segmentBytes: 64 * 1024, capacityBytes: 1 << 20 });
    const buf = await DurableBuffer.open(opts);
    await buf.append(Array.from({ length: 600 }, (_, i) => entry('TELEMETRY', i + 1, 50 + (i % 40))));
    const froms = [0, 450, 10, 300, 599, 120];
    const batches = await Promise.all(froms.map((from) => buf.readUnsent(40, 1 << 20, from)));
    batches.forEach((b, k) => {
      expect(b.count).toBe(Math.min(40, 600 - froms[k]!));
      for (let i = 0; i < b.count; i++) {
        const rec = b.data.subarray(b.starts[i]!, b.ends[i]!);
        const { seq, bodyOffset } = decodeSeqField(rec);
        expect(seq).toBe(froms[k]! + 1 + i);
        expect(Buffer.from(rec.subarray(bodyOffset))).toEqual(
          Buffer.from(entry('TELEMETRY', seq, 50 + ((seq - 1) % 40)).body),
        );
      }
    });
    expect(buf.stats().drops.corruptions).toEqual([]);
    await buf.close();
  });

  it('rejects a cursor beyond the durable head', async () => {
    const { opts } = await setup();
    const buf = await DurableBuffer.open(opts);
    await buf.append([entry('TELEMETRY', 1)]);
    expect(() => buf.markSent(2)).toThrow(expect.objectContaining({ code: 'INVALID' }));
    await buf.close();
  });

  it('deletes segments whose records are all committed, and keeps the rest', async () => {
    const { dir, opts } = await setup();
    const buf = await DurableBuffer.open(opts);
    await buf.append(Array.from({ length: 600 }, (_, i) => entry('TELEMETRY', i)));
    const before = (await readdir(dir)).filter((n) => n.endsWith('.seg')).length;
    await buf.markCommitted(400);
    const after = (await readdir(dir)).filter((n) => n.endsWith('.seg')).length;
    expect(after).toBeLessThan(before);
    const left = await readAll(buf, 0);
    expect(left.seqs.at(-1)).toBe(600);
    expect(left.seqs.filter((s) => s > 400)).toHaveLength(200);
    expect(buf.stats()).toMatchObject({ uncommitted: 200, unsent: 200 });
    expect(buf.stats().drops.evicted.TELEMETRY.records).toBe(0);
    await buf.close();
  });

  it('drops records older than their class TTL even if unsent, and counts them', async () => {
    let now = 1_000_000;
    const { opts } = await setup({ ttlMs: { TELEMETRY: 60_000 }, clock: () => now });
    const buf = await DurableBuffer.open(opts);
    await buf.append(Array.from({ length: 100 }, (_, i) => entry('TELEMETRY', i, 40, now)));
    await buf.append(Array.from({ length: 10 }, (_, i) => entry('ALERT', i, 40, now)));
    now += 61_000;
    await buf.append(Array.from({ length: 5 }, (_, i) => entry('TELEMETRY', i, 40, now)));
    await buf.enforceRetention();
    const left = await readAll(buf);
    expect(left.seqs).toEqual([...Array.from({ length: 10 }, (_, i) => 101 + i), 111, 112, 113, 114, 115]);
    const drops = buf.takeDropReport();
    expect(drops.ttl.TELEMETRY).toEqual({ records: 100, bytes: 100 * 65 });
    expect(drops.ttl.ALERT.records).toBe(0);
    expect(buf.takeDropReport().ttl.TELEMETRY.records).toBe(0);
    expect(buf.stats().drops.ttl.TELEMETRY.records).toBe(100);
    expect(buf.stats().unsent).toBe(15);
    await buf.close();
  });

  it('evicts the lowest-value unsent classes first, oldest first, when full', async () => {
    const { opts } = await setup({ capacityBytes: 64 * 1024, segmentBytes: 16 * 1024 });
    const buf = await DurableBuffer.open(opts);
    const size = 1000 - 25;
    const batch = (cls: 'TELEMETRY' | 'PREDICTION' | 'ANOMALOUS' | 'ALERT', n: number) =>
      buf.append(Array.from({ length: n }, (_, i) => entry(cls, i, size)));
    await batch('ALERT', 5);
    await batch('ANOMALOUS', 10);
    await batch('PREDICTION', 15);
    await batch('TELEMETRY', 30);
    // 60 KB stored; each further alert must push something out.
    for (let i = 0; i < 20; i++) await batch('ALERT', 1);
    const s = buf.stats();
    expect(s.bytesOnDisk).toBeLessThanOrEqual(64 * 1024);
    expect(s.drops.evicted.TELEMETRY.records).toBeGreaterThan(0);
    expect(s.drops.evicted.ALERT.records).toBe(0);
    expect(s.drops.evicted.ANOMALOUS.records).toBe(0);
    const left = await readAll(buf);
    const alerts = left.codes.filter((c) => c === RECORD_CLASS_CODE.ALERT).length;
    expect(alerts).toBe(25);
    const stored = (cls: keyof typeof RECORD_CLASS_CODE) =>
      left.codes.filter((c) => c === RECORD_CLASS_CODE[cls]).length;
    expect(stored('ANOMALOUS')).toBe(10);
    // Predictions go only after every telemetry record did.
    if (s.drops.evicted.PREDICTION.records > 0) expect(stored('TELEMETRY')).toBe(0);
    expect(stored('TELEMETRY') + s.drops.evicted.TELEMETRY.records).toBe(30);
    expect(stored('PREDICTION') + s.drops.evicted.PREDICTION.records).toBe(15);
    await buf.close();
  });

  it('never lets telemetry push out a more valuable class, and rejects it with RESOURCE_EXHAUSTED', async () => {
    const { opts } = await setup({ capacityBytes: 64 * 1024, segmentBytes: 16 * 1024 });
    const buf = await DurableBuffer.open(opts);
    const size = 1000 - 25;
    // Four full segments of 16 alerts each.
    for (let i = 0; i < 64; i++) await buf.append([entry('ALERT', i, size)]);
    const err = await buf.append([entry('TELEMETRY', 1, size), entry('TELEMETRY', 2, size)]).catch((e) => e);
    expect(err).toBeInstanceOf(BufferFullError);
    expect(err.code).toBe('RESOURCE_EXHAUSTED');
    const alertErr = await buf.append(Array.from({ length: 10 }, (_, i) => entry('LABEL', i, size))).catch((e) => e);
    expect(alertErr.code).toBe('RESOURCE_EXHAUSTED');
    const s = buf.stats();
    expect(s.drops.rejected.TELEMETRY).toEqual({ records: 2, bytes: 2000 });
    expect(s.drops.rejected.LABEL.records).toBe(10);
    expect(s.unsent).toBe(64);
    // Still consistent: room made by committing is usable again.
    await buf.markCommitted(40);
    expect(await buf.append([entry('TELEMETRY', 3, size)])).toBe(65);
    await buf.close();
  });
});
