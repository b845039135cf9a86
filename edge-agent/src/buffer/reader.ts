/** Reading verified records out of a segment, with the full `Record` bytes built in place. */
import { open } from 'node:fs/promises';
import {
  checkFrame,
  encodeSeqPrefix,
  FRAME_HEADER_BYTES,
  type FrameFault,
  readU64,
  SEGMENT_HEADER_BYTES,
  seqPrefixLength,
} from './frame.js';
import type { Segment } from './segment.js';
import { walkFrames } from './walk.js';

/**
 * Records in seq order, as columns. Record `i`'s full protobuf `Record` bytes (seq field included)
 * are `data.subarray(starts[i], ends[i])`; the views stay valid as long as the batch is referenced.
 */
export interface ReadBatch {
  count: number;
  seqs: Float64Array;
  tsMs: Float64Array;
  /** Class codes (see RECORD_CLASS_CODE). */
  codes: Uint8Array;
  data: Buffer;
  starts: Uint32Array;
  ends: Uint32Array;
  /** Sum of the record byte lengths. */
  bytes: number;
  /** Seq of the last record, or the `afterSeq` asked for when empty: the next `afterSeq`. */
  lastSeq: number;
}

/** The full `Record` bytes of record `i` of `batch`. */
export function recordBytes(batch: ReadBatch, i: number): Uint8Array {
  return batch.data.subarray(batch.starts[i]!, batch.ends[i]!);
}

export function emptyBatch(afterSeq: number): ReadBatch {
  return {
    count: 0,
    seqs: new Float64Array(0),
    tsMs: new Float64Array(0),
    codes: new Uint8Array(0),
    data: Buffer.alloc(0),
    starts: new Uint32Array(0),
    ends: new Uint32Array(0),
    bytes: 0,
    lastSeq: afterSeq,
  };
}

export interface SegmentRead {
  batch: ReadBatch;
  /** File offset after the last returned record. */
  nextOffset: number;
  fault: { offset: number; fault: FrameFault; prevSeq: number } | null;
}

const MAX_READ = 64 << 20;

/** Offset of the first frame with seq > `afterSeq` (or where a bad frame stops the walk). */
export async function seekAfter(seg: Segment, afterSeq: number, maxBody: number): Promise<number> {
  if (afterSeq < seg.firstSeq) return SEGMENT_HEADER_BYTES;
  const fh = await open(seg.path, 'r');
  try {
    let found = -1;
    const end = await walkFrames(fh, SEGMENT_HEADER_BYTES, seg.size, maxBody, (buf, off, _len, fileOff) => {
      if (readU64(buf, off + 8) <= afterSeq) return true;
      found = fileOff;
      return false;
    });
    return found >= 0 ? found : end.end;
  } finally {
    await fh.close();
  }
}

export interface ReadLimits {
  afterSeq: number;
  /** Highest seq that may be returned (the durable head). */
  maxSeq: number;
  maxRecords: number;
  maxBytes: number;
  maxBody: number;
}

/** Reads and verifies records of `seg` from `offset` (a frame boundary) within the limits. */
export async function readSegment(seg: Segment, offset: number, lim: ReadLimits): Promise<SegmentRead> {
  const size = seg.size;
  const fh = await open(seg.path, 'r');
  try {
    let want = Math.min(size - offset, MAX_READ, Math.max(lim.maxBytes + lim.maxRecords * FRAME_HEADER_BYTES, 64));
    let data = Buffer.allocUnsafe(want);
    let got = (await fh.read(data, 0, want, offset)).bytesRead;
    if (got >= FRAME_HEADER_BYTES) {
      const first = FRAME_HEADER_BYTES + data.readUInt32LE(0);
      if (first > got && first <= FRAME_HEADER_BYTES + lim.maxBody && offset + first <= size) {
        want = first;
        data = Buffer.allocUnsafe(want);
        got = (await fh.read(data, 0, want, offset)).bytesRead;
      }
    }
    return parse(data, got, offset, offset + got >= size, lim);
  } finally {
    await fh.close();
  }
}

function parse(data: Buffer, got: number, fileOff: number, atEnd: boolean, lim: ReadLimits): SegmentRead {
  const cap = Math.min(lim.maxRecords, Math.floor(got / FRAME_HEADER_BYTES) + 1);
  const seqs = new Float64Array(cap);
  const tsMs = new Float64Array(cap);
  const codes = new Uint8Array(cap);
  const starts = new Uint32Array(cap);
  const ends = new Uint32Array(cap);
  let n = 0;
  let bytes = 0;
  let off = 0;
  let prevSeq = lim.afterSeq;
  let fault: SegmentRead['fault'] = null;
  while (off < got && n < cap) {
    const r = checkFrame(data, off, got, lim.maxBody);
    if (typeof r !== 'number') {
      if ((r === 'short-header' || r === 'short-body') && !atEnd) break;
      fault = { offset: fileOff + off, fault: r, prevSeq };
      break;
    }
    const seq = readU64(data, off + 8);
    if (seq > lim.maxSeq) break;
    const bodyStart = off + FRAME_HEADER_BYTES;
    const prefix = seqPrefixLength(seq);
    if (n > 0 && bytes + prefix + r > lim.maxBytes) break;
    if (seq > lim.afterSeq) {
      seqs[n] = seq;
      tsMs[n] = data.readDoubleLE(off + 16);
      codes[n] = data[off + 24]!;
      starts[n] = bodyStart - prefix;
      encodeSeqPrefix(seq, data, bodyStart - prefix);
      ends[n] = bodyStart + r;
      bytes += prefix + r;
      n++;
      prevSeq = seq;
    }
    off = bodyStart + r;
  }
  const batch: ReadBatch = {
    count: n,
    seqs: seqs.subarray(0, n),
    tsMs: tsMs.subarray(0, n),
    codes: codes.subarray(0, n),
    data,
    starts: starts.subarray(0, n),
    ends: ends.subarray(0, n),
    bytes,
    lastSeq: prevSeq,
  };
  return { batch, nextOffset: fileOff + off, fault };
}
