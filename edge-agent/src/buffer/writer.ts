/**
 * One group commit: writes a batch into the active segment (rolling as planned) and makes it
 * durable. Segments are opened with O_DSYNC where the platform has it, so each write returns only
 * once its data (and the file size) are on stable storage, as write + fdatasync would: one thread
 * pool round trip per commit instead of two, which is on the critical path of every acknowledged
 * append. Elsewhere the write is followed by fdatasync.
 */
import { constants } from 'node:fs';
import { type FileHandle, open, unlink } from 'node:fs/promises';
import { fsyncDir } from '../fs-atomic.js';
import { truncateDurably } from './compact.js';
import { SEGMENT_HEADER_BYTES, writeSegmentHeader } from './frame.js';
import { Segment } from './segment.js';
import type { WriteBatch } from './write-batch.js';

export interface WriterState {
  dir: string;
  segments: Segment[];
  active: Segment | null;
  activeFd: FileHandle | null;
}

/** A group commit failed; its records are not on disk. `fatal`: the rollback failed too. */
export class WriteFailure extends Error {
  constructor(
    override readonly cause: unknown,
    readonly fatal: boolean,
  ) {
    super('group commit failed', { cause });
  }
}

interface Part {
  seg: Segment;
  prevSize: number;
  created: boolean;
  from: number;
  to: number;
  recFrom: number;
  recTo: number;
}

export interface Written {
  active: Segment | null;
  activeFd: FileHandle | null;
  /** Bytes the segment files grew by (records plus new segment headers). */
  grownBytes: number;
}

/**
 * Writes `b` durably. Only after every part is fdatasync'd (and new segment files' directory
 * entries fsynced) are the segments' summaries updated; on failure every touched file is cut back.
 * @throws WriteFailure
 */
export async function writeBatch(b: WriteBatch, st: WriterState): Promise<Written> {
  const parts: Part[] = [];
  let active = st.active;
  let fd = st.activeFd;
  try {
    let start = 0;
    let rec = 0;
    for (let k = 0; k <= b.breaks.length; k++) {
      const end = k < b.breaks.length ? b.breakOffsets[k]! : b.len;
      const recEnd = k < b.breaks.length ? b.breaks[k]! : b.n;
      if (end > start) {
        const created = active === null;
        if (active === null) {
          active = new Segment(st.dir, b.firstSeq + rec);
          fd = await open(active.path, SEGMENT_OPEN_FLAGS);
          st.segments.push(active);
        }
        parts.push({ seg: active, prevSize: active.size, created, from: start, to: end, recFrom: rec, recTo: recEnd });
        await writePart(fd!, b.buf.subarray(start, end), created ? 0 : active.size, created ? active.firstSeq : -1);
        if (!DSYNC) await fd!.datasync();
        if (created) await fsyncDir(st.dir);
      }
      if (k < b.breaks.length && active !== null) {
        await fd?.close();
        active = null;
        fd = null;
      }
      start = end;
      rec = recEnd;
    }
  } catch (err) {
    await fd?.close().catch(() => undefined);
    throw new WriteFailure(err, !(await rollback(parts, st)));
  }
  let grown = 0;
  for (const p of parts) {
    const size = (p.created ? SEGMENT_HEADER_BYTES : p.prevSize) + (p.to - p.from);
    grown += size - p.prevSize;
    p.seg.size = size;
    for (let i = p.recFrom; i < p.recTo; i++) p.seg.add(b.firstSeq + i, b.codes[i]!, b.ts[i]!, b.frameLens[i]!);
  }
  return { active, activeFd: fd, grownBytes: grown };
}

const DSYNC = constants.O_DSYNC !== undefined;
/** Create only (a segment file is never reopened for appending); synchronous data writes where available. */
const SEGMENT_OPEN_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_DSYNC ?? 0);

async function writePart(fd: FileHandle, bytes: Buffer, position: number, newSegmentSeq: number): Promise<void> {
  if (newSegmentSeq < 0) return writeAll(fd, bytes, position);
  // A new segment's header goes in the same write as its first records (one synchronous write).
  const header = Buffer.allocUnsafe(SEGMENT_HEADER_BYTES);
  writeSegmentHeader(header, newSegmentSeq);
  const { bytesWritten } = await fd.writev([header, bytes], position);
  if (bytesWritten < SEGMENT_HEADER_BYTES) {
    await writeAll(fd, header.subarray(bytesWritten), position + bytesWritten);
    await writeAll(fd, bytes, position + SEGMENT_HEADER_BYTES);
  } else {
    const done = bytesWritten - SEGMENT_HEADER_BYTES;
    await writeAll(fd, bytes.subarray(done), position + bytesWritten);
  }
}

async function writeAll(fd: FileHandle, bytes: Buffer, position: number): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const { bytesWritten } = await fd.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

/** Cuts every touched file back to its size before the batch. @returns false when that failed. */
async function rollback(parts: Part[], st: WriterState): Promise<boolean> {
  try {
    for (const p of parts.reverse()) {
      if (p.created) {
        await unlink(p.seg.path).catch(() => undefined);
        const i = st.segments.indexOf(p.seg);
        if (i >= 0) st.segments.splice(i, 1);
      } else {
        await truncateDurably(p.seg.path, p.prevSize);
      }
    }
    return true;
  } catch {
    return false;
  }
}
