/** Helpers shared by the buffer's tests (not used by production code). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReadBatch } from './reader.js';
import type { RecordClassName } from './record-class.js';
import type { AppendEntry } from './types.js';

export async function tempDir(): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'mw-buffer-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A body whose bytes encode `tag`, so a read can be checked against what was written. */
export function entry(cls: RecordClassName, tag: number, size = 40, tsMs = 1_000): AppendEntry {
  const body = new Uint8Array(size);
  for (let i = 0; i < size; i++) body[i] = (tag * 31 + i) & 0xff;
  return { cls, tsMs, body };
}

/** Decodes the leading `0x08 varint` of a full Record: its seq. */
export function decodeSeqField(bytes: Uint8Array): { seq: number; bodyOffset: number } {
  if (bytes[0] !== 0x08) throw new Error(`expected tag 0x08, got ${bytes[0]}`);
  let seq = 0;
  let mul = 1;
  let i = 1;
  for (;;) {
    const b = bytes[i++]!;
    seq += (b & 0x7f) * mul;
    mul *= 0x80;
    if (b < 0x80) break;
  }
  return { seq, bodyOffset: i };
}

/** Reads every record after `afterSeq` (default: the send cursor) in small batches; returns their seqs and full bytes. */
export async function readAll(
  buf: { readUnsent(maxRecords: number, maxBytes: number, afterSeq?: number): Promise<ReadBatch> },
  afterSeq?: number,
): Promise<{ seqs: number[]; records: Uint8Array[]; codes: number[] }> {
  const seqs: number[] = [];
  const records: Uint8Array[] = [];
  const codes: number[] = [];
  let after = afterSeq;
  for (;;) {
    const b = after === undefined ? await buf.readUnsent(97, 16_384) : await buf.readUnsent(97, 16_384, after);
    if (b.count === 0) return { seqs, records, codes };
    for (let i = 0; i < b.count; i++) {
      seqs.push(b.seqs[i]!);
      codes.push(b.codes[i]!);
      records.push(b.data.subarray(b.starts[i]!, b.ends[i]!));
    }
    after = b.lastSeq;
  }
}
