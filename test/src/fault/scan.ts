/**
 * An independent reader of the agent's buffer directory, used as ground truth while the agent is
 * down: every frame whose checksum verifies is a record the buffer made durable (appends resolve
 * only after fdatasync, and kill -9 keeps written bytes in the page cache). Only the CRC32C
 * function is shared with the product; the walk is written here from the documented format.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32c } from '@millwright/edge-agent/buffer/crc32c.js';

const SEGMENT_HEADER = 16;
const FRAME_HEADER = 25;
const TWO_32 = 0x1_0000_0000;

export interface BufferScan {
  /** seq -> class code of every verified record on disk. */
  records: Map<number, number>;
  /** Commit cursor from the cursors file (0 when absent). */
  commit: number;
  /** Highest durable seq known: the last record on disk or the commit cursor. */
  maxDurable: number;
  segments: string[];
}

export async function scanBuffer(dir: string): Promise<BufferScan> {
  const names = (await readdir(dir)).filter((n) => /^\d{20}\.seg$/.test(n)).sort();
  const records = new Map<number, number>();
  for (const name of names) walk(await readFile(join(dir, name)), records);
  const commit = await readCommit(dir);
  let maxDurable = commit;
  for (const seq of records.keys()) if (seq > maxDurable) maxDurable = seq;
  return { records, commit, maxDurable, segments: names };
}

/** Frames of one segment up to the first one that does not verify (a torn or corrupt tail). */
export function segmentFrames(buf: Buffer): { seq: number; cls: number; offset: number; end: number }[] {
  const out: { seq: number; cls: number; offset: number; end: number }[] = [];
  if (buf.length < SEGMENT_HEADER || buf.toString('latin1', 0, 4) !== 'MWSG') return out;
  let off = SEGMENT_HEADER;
  while (off + FRAME_HEADER <= buf.length) {
    const len = buf.readUInt32LE(off);
    const end = off + FRAME_HEADER + len;
    if (end > buf.length || crc32c(buf, off + 8, end) !== buf.readUInt32LE(off + 4)) break;
    out.push({ seq: u64(buf, off + 8), cls: buf[off + 24]!, offset: off, end });
    off = end;
  }
  return out;
}

function walk(buf: Buffer, into: Map<number, number>): void {
  for (const f of segmentFrames(buf)) into.set(f.seq, f.cls);
}

async function readCommit(dir: string): Promise<number> {
  try {
    const buf = await readFile(join(dir, 'cursors'));
    return buf.length === 36 ? u64(buf, 16) : 0;
  } catch {
    return 0;
  }
}

function u64(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off) + buf.readUInt32LE(off + 4) * TWO_32;
}
