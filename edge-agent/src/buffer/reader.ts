/** Reading verified records out of a segment, with the full `Record` bytes built in place. */
import type { FileHandle } from 'node:fs/promises';
import { wordsOf } from './crc32c.js';
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
/** Smallest span read ahead from a segment at once. */
const MIN_SPAN = 1 << 20;
/** Largest span read ahead from a segment (one batch may still need more: up to MAX_READ). */
const MAX_SPAN = 16 << 20;
/** Spans are read ahead for this many batches of the expected size. */
const SPAN_BATCHES = 8;

/**
 * Bytes of one segment read into memory ahead of the reader, so consecutive batches come from one
 * large read instead of one open + read + close each. Only frames at or after `parsedTo` were never
 * handed out: a batch is parsed (and verified, frame by frame) from the span only there, because
 * parsing writes each handed-out record's seq prefix over its own frame header, so a frame before
 * `parsedTo` would no longer verify; a read that goes back reads the file again into a new span.
 * The bytes of a span are never written to after a frame is handed out (only the headers of later
 * frames are), so a batch's views stay valid for as long as it is referenced.
 */
export interface ReadSpan {
  seg: Segment;
  /** `seg.generation` when read: a rewritten segment never serves from an old span. */
  gen: number;
  /** File offset of `data[0]`. */
  fileOff: number;
  data: Buffer;
  /** `wordsOf(data)`, for the checksum. */
  words: Int32Array;
  len: number;
  /** File offset up to which frames were parsed. */
  parsedTo: number;
}

/** Offset of the first frame with seq > `afterSeq` (or where a bad frame stops the walk). */
export async function seekAfter(seg: Segment, fh: FileHandle, afterSeq: number, maxBody: number): Promise<number> {
  if (afterSeq < seg.firstSeq) return SEGMENT_HEADER_BYTES;
  let found = -1;
  const end = await walkFrames(fh, SEGMENT_HEADER_BYTES, seg.size, maxBody, (buf, off, _len, fileOff) => {
    if (readU64(buf, off + 8) <= afterSeq) return true;
    found = fileOff;
    return false;
  });
  return found >= 0 ? found : end.end;
}

export interface ReadLimits {
  afterSeq: number;
  /** Highest seq that may be returned (the durable head). */
  maxSeq: number;
  maxRecords: number;
  maxBytes: number;
  maxBody: number;
}

/**
 * Reads and verifies records of `seg` from `offset` (a frame boundary) within the limits, from
 * `span` when it holds the whole expected batch there, else from a new span read through `fh`.
 * @returns the read, and the span it came from (to pass to the next call).
 */
export async function readSegment(
  seg: Segment,
  fh: FileHandle,
  offset: number,
  lim: ReadLimits,
  span: ReadSpan | null,
): Promise<SegmentRead & { span: ReadSpan }> {
  const size = seg.size;
  const expect = expectedBatchBytes(seg, lim);
  if (
    span !== null &&
    span.seg === seg &&
    span.gen === seg.generation &&
    offset >= span.parsedTo &&
    offset < span.fileOff + span.len &&
    (span.fileOff + span.len - offset >= expect || span.fileOff + span.len >= size)
  ) {
    const r = parse(span, offset, span.fileOff + span.len >= size, lim);
    if (r.batch.count > 0 || r.fault !== null) return { ...r, span };
  }
  let want = Math.min(size - offset, Math.max(Math.min(expect * SPAN_BATCHES, MAX_SPAN), MIN_SPAN, expect), MAX_READ);
  let data = Buffer.allocUnsafe(Math.max(want, 0));
  let got = (await fh.read(data, 0, want, offset)).bytesRead;
  if (got >= FRAME_HEADER_BYTES) {
    const first = FRAME_HEADER_BYTES + data.readUInt32LE(0);
    if (first > got && first <= FRAME_HEADER_BYTES + lim.maxBody && offset + first <= size) {
      want = first;
      data = Buffer.allocUnsafe(want);
      got = (await fh.read(data, 0, want, offset)).bytesRead;
    }
  }
  const fresh: ReadSpan = {
    seg,
    gen: seg.generation,
    fileOff: offset,
    data,
    words: wordsOf(data),
    len: got,
    parsedTo: offset,
  };
  return { ...parse(fresh, offset, offset + got >= size, lim), span: fresh };
}

/** Frame bytes the next batch most likely needs: by the byte limit or the segment's mean frame. */
function expectedBatchBytes(seg: Segment, lim: ReadLimits): number {
  let records = 0;
  let bytes = 0;
  for (let c = 0; c < seg.classCount.length; c++) {
    records += seg.classCount[c]!;
    bytes += seg.classBytes[c]!;
  }
  const byBytes = lim.maxBytes + lim.maxRecords * FRAME_HEADER_BYTES;
  const byCount = records > 0 ? Math.ceil((bytes / records) * lim.maxRecords * 1.25) : byBytes;
  return Math.max(64, Math.min(byBytes, byCount));
}

function parse(span: ReadSpan, from: number, atEnd: boolean, lim: ReadLimits): SegmentRead {
  const data = span.data;
  const fileOff = span.fileOff;
  const got = span.len;
  const cap = Math.min(lim.maxRecords, Math.floor((got - (from - fileOff)) / FRAME_HEADER_BYTES) + 1);
  const seqs = new Float64Array(cap);
  const tsMs = new Float64Array(cap);
  const codes = new Uint8Array(cap);
  const starts = new Uint32Array(cap);
  const ends = new Uint32Array(cap);
  let n = 0;
  let bytes = 0;
  let off = from - fileOff;
  let prevSeq = lim.afterSeq;
  let fault: SegmentRead['fault'] = null;
  while (off < got && n < cap) {
    const r = checkFrame(data, off, got, lim.maxBody, span.words);
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
  if (fileOff + off > span.parsedTo) span.parsedTo = fileOff + off;
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
