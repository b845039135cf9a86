/** One segment file's in-memory summary, and the verifying scan that rebuilds it from disk. */
import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import {
  checkFrame,
  FRAME_HEADER_BYTES,
  type FrameFault,
  frameSeq,
  framesOf,
  frameTs,
  isSegmentHeader,
  readU64,
  SEGMENT_HEADER_BYTES,
} from './frame.js';
import { LiveSet } from './live-set.js';
import { walkFrames } from './walk.js';

const SEGMENT_RE = /^(\d{20})\.seg$/;
const CLASS_SLOTS = 8;

/** File name of the segment whose first seq is `firstSeq`. */
export function segmentName(firstSeq: number): string {
  return `${String(firstSeq).padStart(20, '0')}.seg`;
}

/** First seq encoded in a segment file name, or undefined for other files. */
export function parseSegmentName(name: string): number | undefined {
  const m = SEGMENT_RE.exec(name);
  return m ? Number(m[1]) : undefined;
}

export class Segment {
  /** Durable bytes of the file, header included (0 until the first group commit creates it). */
  size = 0;
  readonly live: LiveSet;
  /** Per class code: records, frame bytes, oldest and newest timestamp. */
  readonly classCount = new Float64Array(CLASS_SLOTS);
  readonly classBytes = new Float64Array(CLASS_SLOTS);
  readonly minTs = new Float64Array(CLASS_SLOTS).fill(Number.POSITIVE_INFINITY);
  readonly maxTs = new Float64Array(CLASS_SLOTS).fill(Number.NEGATIVE_INFINITY);
  /** Set while compaction or quarantine rewrites the file; readers wait and retry. */
  busy = false;
  /** Bumped whenever the file is rewritten, so cached read positions are dropped. */
  generation = 0;

  constructor(
    readonly dir: string,
    readonly firstSeq: number,
  ) {
    this.live = new LiveSet(firstSeq);
  }

  get name(): string {
    return segmentName(this.firstSeq);
  }

  get path(): string {
    return join(this.dir, this.name);
  }

  get lastSeq(): number {
    return this.live.last;
  }

  /** Accounts one stored record. */
  add(seq: number, code: number, tsMs: number, frameLen: number): void {
    this.live.add(seq);
    this.classCount[code]! += 1;
    this.classBytes[code]! += frameLen;
    if (tsMs < this.minTs[code]!) this.minTs[code] = tsMs;
    if (tsMs > this.maxTs[code]!) this.maxTs[code] = tsMs;
  }
}

/** Where and why a scan stopped before the end of the file. */
export interface ScanFault {
  offset: number;
  fault: FrameFault | 'bad-header' | 'bad-seq';
  /** Bytes from `offset` to the end of the file. */
  restBytes: number;
  /** True when a well-formed record follows the bad one: bit rot, not a torn write. */
  validAfter: boolean;
}

export interface ScanResult {
  segment: Segment;
  fileSize: number;
  fault: ScanFault | null;
}

/**
 * Reads a whole segment, verifying every frame, and rebuilds its summary up to the first bad frame.
 * Never throws for bad content; I/O errors propagate.
 */
export async function scanSegment(dir: string, firstSeq: number, maxBody: number): Promise<ScanResult> {
  const seg = new Segment(dir, firstSeq);
  const fh = await open(seg.path, 'r');
  try {
    const fileSize = (await fh.stat()).size;
    const head = Buffer.alloc(SEGMENT_HEADER_BYTES);
    await fh.read(head, 0, SEGMENT_HEADER_BYTES, 0);
    if (fileSize < SEGMENT_HEADER_BYTES || !isSegmentHeader(head) || readU64(head, 8) !== firstSeq) {
      seg.size = 0;
      return {
        segment: seg,
        fileSize,
        fault: { offset: 0, fault: 'bad-header', restBytes: fileSize, validAfter: false },
      };
    }
    let badSeq = false;
    const end = await walkFrames(fh, SEGMENT_HEADER_BYTES, fileSize, maxBody, (f, off, len) => {
      const seq = frameSeq(f, off);
      if (seq <= seg.live.last || seq < firstSeq) {
        badSeq = true;
        return false;
      }
      seg.add(seq, f.bytes[off + 24]!, frameTs(f, off), FRAME_HEADER_BYTES + len);
      return true;
    });
    seg.size = end.end;
    const fault = badSeq ? 'bad-seq' : end.fault;
    if (fault === null) return { segment: seg, fileSize, fault: null };
    const validAfter = await wellFormedFrameAfter(fh, end.end, fileSize, maxBody);
    return { segment: seg, fileSize, fault: { offset: end.end, fault, restBytes: fileSize - end.end, validAfter } };
  } finally {
    await fh.close();
  }
}

/** Whether the frame after the bad one (by its length field) verifies: evidence of corruption, not a torn write. */
async function wellFormedFrameAfter(
  fh: FileHandle,
  offset: number,
  fileSize: number,
  maxBody: number,
): Promise<boolean> {
  const hdr = Buffer.alloc(4);
  if ((await fh.read(hdr, 0, 4, offset)).bytesRead < 4) return false;
  const next = offset + FRAME_HEADER_BYTES + hdr.readUInt32LE(0);
  if (hdr.readUInt32LE(0) > maxBody || next + FRAME_HEADER_BYTES > fileSize) return false;
  await fh.read(hdr, 0, 4, next);
  const nextLen = hdr.readUInt32LE(0);
  if (nextLen > maxBody || next + FRAME_HEADER_BYTES + nextLen > fileSize) return false;
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + nextLen);
  await fh.read(frame, 0, frame.length, next);
  return typeof checkFrame(framesOf(frame), 0, frame.length, maxBody) === 'number';
}
