import { cp, open, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DurableBuffer } from './durable-buffer.js';
import { FRAME_HEADER_BYTES, SEGMENT_HEADER_BYTES } from './frame.js';
import { entry, readAll, tempDir } from './test-support.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

const BODY = 40;
const FRAME = FRAME_HEADER_BYTES + BODY;
const SEGMENT = 8192;
const PER_SEGMENT = Math.floor((SEGMENT - SEGMENT_HEADER_BYTES) / FRAME);

async function filled(records: number): Promise<string> {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  const buf = await DurableBuffer.open({ dir: t.dir, capacityBytes: 1 << 20, segmentBytes: SEGMENT });
  await buf.append(Array.from({ length: records }, (_, i) => entry('TELEMETRY', i, BODY)));
  await buf.close();
  return t.dir;
}

async function segments(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith('.seg')).sort();
}

const openAt = (dir: string) => DurableBuffer.open({ dir, capacityBytes: 1 << 20, segmentBytes: SEGMENT });

async function flipBit(path: string, offset: number): Promise<void> {
  const fh = await open(path, 'r+');
  const b = Buffer.alloc(1);
  await fh.read(b, 0, 1, offset);
  b[0]! ^= 0x10;
  await fh.write(b, 0, 1, offset);
  await fh.close();
}

describe('DurableBuffer recovery', () => {
  it('cuts a torn last record (any cut point, any garbage after it) and keeps every record before it', async () => {
    const records = PER_SEGMENT + 30;
    const source = await filled(records);
    const last = (await segments(source)).at(-1)!;
    const size = (await stat(join(source, last))).size;
    const lastStart = size - FRAME;
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 48271) % 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 30; i++) {
      const t = await tempDir();
      cleanups.push(t.cleanup);
      await cp(source, t.dir, { recursive: true });
      const cut = lastStart + 1 + rand(FRAME - 1);
      const garbage = Buffer.alloc(rand(200));
      for (let k = 0; k < garbage.length; k++) garbage[k] = rand(256);
      const whole = await readFile(join(t.dir, last));
      await writeFile(join(t.dir, last), Buffer.concat([whole.subarray(0, cut), garbage]));

      const buf = await openAt(t.dir);
      expect(buf.openReport.tornTail).toMatchObject({
        segment: last,
        offset: lastStart,
        truncatedBytes: cut - lastStart + garbage.length,
      });
      expect(buf.openReport.corruptions).toEqual([]);
      const { seqs } = await readAll(buf, 0);
      expect(seqs).toEqual(Array.from({ length: records - 1 }, (_, k) => k + 1));
      expect(await buf.append([entry('ALERT', 1)])).toBeGreaterThanOrEqual(records);
      await buf.close();
    }
  });

  it('quarantines the rest of an older segment at a flipped bit and reports it loudly', async () => {
    const dir = await filled(3 * PER_SEGMENT);
    const [first] = await segments(dir);
    const bad = 40;
    const badOffset = SEGMENT_HEADER_BYTES + (bad - 1) * FRAME;
    await flipBit(join(dir, first!), badOffset + FRAME_HEADER_BYTES + 7);

    const buf = await openAt(dir);
    expect(buf.openReport.tornTail).toBeNull();
    expect(buf.openReport.corruptions).toHaveLength(1);
    const ev = buf.openReport.corruptions[0]!;
    expect(ev).toMatchObject({ segment: first, offset: badOffset, fault: 'checksum' });
    expect(ev.quarantinedBytes).toBe((PER_SEGMENT - bad + 1) * FRAME);
    expect((await stat(ev.quarantineFile!)).size).toBe(ev.quarantinedBytes);
    expect(buf.stats().drops.corruptions).toHaveLength(1);
    expect(buf.takeDropReport().corruptBytes).toBe(ev.quarantinedBytes);

    const { seqs } = await readAll(buf, 0);
    const expected = [
      ...Array.from({ length: bad - 1 }, (_, k) => k + 1),
      ...Array.from({ length: 2 * PER_SEGMENT }, (_, k) => PER_SEGMENT + k + 1),
    ];
    expect(seqs).toEqual(expected);
    expect(await buf.append([entry('ALERT', 1)])).toBe(3 * PER_SEGMENT + 1);
    await buf.close();
  });

  it('treats a flipped bit in the middle of the last segment as corruption, not as a torn tail', async () => {
    const dir = await filled(PER_SEGMENT + 50);
    const last = (await segments(dir)).at(-1)!;
    await flipBit(join(dir, last), SEGMENT_HEADER_BYTES + 10 * FRAME + 30);
    const buf = await openAt(dir);
    expect(buf.openReport.tornTail).toBeNull();
    expect(buf.openReport.corruptions).toMatchObject([{ segment: last, offset: SEGMENT_HEADER_BYTES + 10 * FRAME }]);
    expect((await readAll(buf, 0)).seqs).toHaveLength(PER_SEGMENT + 10);
    await buf.close();
  });

  it('finds corruption that appears while running, when reading, and moves on to the next segment', async () => {
    const dir = await filled(2 * PER_SEGMENT);
    const buf = await openAt(dir);
    const [first] = await segments(dir);
    await flipBit(join(dir, first!), SEGMENT_HEADER_BYTES + 99 * FRAME + 30);
    const { seqs } = await readAll(buf, 0);
    expect(seqs).toEqual([
      ...Array.from({ length: 99 }, (_, k) => k + 1),
      ...Array.from({ length: PER_SEGMENT }, (_, k) => PER_SEGMENT + k + 1),
    ]);
    const report = buf.takeDropReport();
    expect(report.corruptions).toMatchObject([{ segment: first, offset: SEGMENT_HEADER_BYTES + 99 * FRAME }]);
    expect(report.corruptions[0]!.lostRecords).toBe(PER_SEGMENT - 99);
    expect(buf.stats().unsent).toBe(99 + PER_SEGMENT);
    await buf.close();
    const again = await openAt(dir);
    expect(again.openReport.corruptions).toEqual([]);
    expect((await readAll(again, 0)).seqs).toEqual(seqs);
    await again.close();
  });
});
