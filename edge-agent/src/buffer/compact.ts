/**
 * Rewrites one sealed segment without the records a policy drops, and moves aside the tail of a
 * segment after a bad frame. Both produce the new file beside the old one, fsync it, then rename
 * over the old one, so a crash leaves either the old or the new segment and at most a temp file
 * that open removes.
 */
import { type FileHandle, open, rename, truncate, unlink } from 'node:fs/promises';
import { fsyncDir } from '../fs-atomic.js';
import {
  FRAME_HEADER_BYTES,
  type FrameFault,
  frameSeq,
  frameTs,
  SEGMENT_HEADER_BYTES,
  writeSegmentHeader,
} from './frame.js';
import { Segment } from './segment.js';
import { walkFrames } from './walk.js';

/** What compaction does with one record. */
export const Verdict = { KEEP: 0, RECLAIM: 1, TTL: 2, EVICT: 3 } as const;
export type Verdict = (typeof Verdict)[keyof typeof Verdict];

export type Decide = (seq: number, code: number, tsMs: number) => Verdict;

export interface CompactOutcome {
  /** The rewritten segment; null when nothing survived (file deleted); the input when nothing changed. */
  segment: Segment | null;
  /** Dropped records and bytes, index `(verdict * 8 + code) * 2` (+1 for bytes). */
  dropped: Float64Array;
  /** A bad frame stopped the copy: the rest went to `quarantineFile`. */
  fault: { offset: number; fault: FrameFault; restBytes: number; quarantineFile: string } | null;
}

const OUT_CHUNK = 1 << 20;

export async function compactSegment(seg: Segment, maxBody: number, decide: Decide): Promise<CompactOutcome> {
  const dropped = new Float64Array(4 * 8 * 2);
  const tmp = `${seg.path}.compact`;
  const src = await open(seg.path, 'r');
  let dst: FileHandle | null = null;
  try {
    dst = await open(tmp, 'w');
    const next = new Segment(seg.dir, seg.firstSeq);
    const out = Buffer.allocUnsafe(OUT_CHUNK + FRAME_HEADER_BYTES + maxBody);
    writeSegmentHeader(out, seg.firstSeq);
    let outLen = SEGMENT_HEADER_BYTES;
    let written = 0;
    const flushOut = async (): Promise<void> => {
      if (outLen === 0) return;
      await dst!.write(out, 0, outLen, written);
      written += outLen;
      outLen = 0;
    };
    let changed = false;
    const end = await walkFrames(
      src,
      SEGMENT_HEADER_BYTES,
      seg.size,
      maxBody,
      (f, off, len) => {
        const seq = frameSeq(f, off);
        const code = f.bytes[off + 24]!;
        const ts = frameTs(f, off);
        const v = decide(seq, code, ts);
        const frameLen = FRAME_HEADER_BYTES + len;
        if (v !== Verdict.KEEP) {
          changed = true;
          dropped[(v * 8 + code) * 2]! += 1;
          dropped[(v * 8 + code) * 2 + 1]! += frameLen;
          return true;
        }
        f.bytes.copy(out, outLen, off, off + frameLen);
        outLen += frameLen;
        next.add(seq, code, ts, frameLen);
        return true;
      },
      () => (outLen >= OUT_CHUNK ? flushOut() : Promise.resolve()),
    );
    await flushOut();
    next.size = written;
    let fault: CompactOutcome['fault'] = null;
    if (end.fault !== null) {
      const quarantineFile = `${seg.path}.${end.end}.corrupt`;
      await copyTail(src, end.end, seg.size, quarantineFile);
      fault = { offset: end.end, fault: end.fault, restBytes: seg.size - end.end, quarantineFile };
      changed = true;
    }
    await dst.sync();
    await dst.close();
    dst = null;
    if (!changed) {
      await unlink(tmp);
      return { segment: seg, dropped, fault: null };
    }
    if (next.live.count === 0) {
      await unlink(tmp);
      await unlink(seg.path);
      await fsyncDir(seg.dir);
      return { segment: null, dropped, fault };
    }
    await rename(tmp, seg.path);
    await fsyncDir(seg.dir);
    return { segment: next, dropped, fault };
  } catch (err) {
    await dst?.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  } finally {
    await src.close();
  }
}

/** Copies `[from, to)` of `src` to a new durable file `dest`. */
export async function copyTail(src: FileHandle, from: number, to: number, dest: string): Promise<void> {
  const fh = await open(dest, 'w');
  try {
    const buf = Buffer.allocUnsafe(Math.min(OUT_CHUNK, Math.max(1, to - from)));
    for (let pos = from; pos < to; ) {
      const { bytesRead } = await src.read(buf, 0, Math.min(buf.length, to - pos), pos);
      if (bytesRead === 0) break;
      await fh.write(buf, 0, bytesRead, pos - from);
      pos += bytesRead;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Moves the bytes of `path` from `offset` on into `<path>.<offset>.corrupt` and cuts the segment
 * there. A whole-file fault (bad header) renames the file instead.
 * @returns the quarantine file name.
 */
export async function quarantineTail(path: string, dir: string, offset: number): Promise<string> {
  const dest = `${path}.${offset}.corrupt`;
  if (offset === 0) {
    await rename(path, dest);
  } else {
    const src = await open(path, 'r');
    try {
      await copyTail(src, offset, (await src.stat()).size, dest);
    } finally {
      await src.close();
    }
    await truncateDurably(path, offset);
  }
  await fsyncDir(dir);
  return dest;
}

/** Cuts `path` to `size` and makes the new length durable. */
export async function truncateDurably(path: string, size: number): Promise<void> {
  await truncate(path, size);
  const fh = await open(path, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
