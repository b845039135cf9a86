/** Reading verified records out of a segment, with the full `Record` bytes built in place. */
import type { FileHandle } from 'node:fs/promises';
import { CrcArena } from './crc32c-wasm.js';
import {
  checkFrame,
  encodeSeqPrefix,
  FRAME_HEADER_BYTES,
  type FrameFault,
  type Frames,
  frameSeq,
  framesIn,
  frameTs,
  SEGMENT_HEADER_BYTES,
  seqPrefixLength,
} from './frame.js';
import type { Segment } from './segment.js';
import { walkFrames } from './walk.js';

/**
 * Records in seq order, as columns. Record `i`'s full protobuf `Record` bytes (seq field included)
 * are `data.subarray(starts[i], ends[i])`; the views stay valid as long as the batch is referenced
 * and not passed as `reuse` to a later read (which then overwrites its memory).
 * The records lie in `data` in order, each behind what is left of its frame header (at least 15
 * bytes), so a RecordBatch encoder can move them together in place (see adapters/nats/records.ts).
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
 * Which bytes of one segment the arena holds: read ahead of the reader, so consecutive batches
 * come from one large read instead of one read each. Only frames at or after `parsedTo` were never
 * handed out: a batch is parsed (and verified, frame by frame) from the span only there, because
 * parsing writes each handed-out record's seq prefix over its own frame header, so a frame before
 * `parsedTo` would no longer verify; a read that goes back reads the file again.
 */
interface ReadSpan {
  seg: Segment;
  /** `seg.generation` when read: a rewritten segment never serves from an old span. */
  gen: number;
  /** File offset of the arena's first byte. */
  fileOff: number;
  len: number;
  /** File offset up to which frames were parsed. */
  parsedTo: number;
}

/** Offset of the first frame with seq > `afterSeq` (or where a bad frame stops the walk). */
export async function seekAfter(seg: Segment, fh: FileHandle, afterSeq: number, maxBody: number): Promise<number> {
  if (afterSeq < seg.firstSeq) return SEGMENT_HEADER_BYTES;
  let found = -1;
  const end = await walkFrames(fh, SEGMENT_HEADER_BYTES, seg.size, maxBody, (f, off, _len, fileOff) => {
    if (frameSeq(f, off) <= afterSeq) return true;
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
 * Reads verified records out of segments through one arena (./crc32c-wasm.ts), where the bytes
 * are read to and checksummed in place; each batch's records are then copied out in one piece, so
 * batches never share memory with the arena and the arena is reused for every read (no large
 * allocation per read). Reads run one at a time: the arena holds one span. The arena keeps the
 * size of the largest span it held (MIN_SPAN to MAX_SPAN; more only for one larger frame).
 */
export class SpanReader {
  private readonly arena = new CrcArena(MIN_SPAN);
  private frames: Frames = framesIn(this.arena);
  private span: ReadSpan | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  /**
   * Reads and verifies records of `seg` from `offset` (a frame boundary) within the limits, from
   * the span in the arena when it holds the whole expected batch there, else from a new span read
   * through `fh`.
   */
  read(seg: Segment, fh: FileHandle, offset: number, lim: ReadLimits, reuse?: ReadBatch): Promise<SegmentRead> {
    const run = this.queue.then(() => this.readNow(seg, fh, offset, lim, reuse));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Drops the span when it came from `seg` (rewritten or removed). */
  forget(seg: Segment): void {
    if (this.span?.seg === seg) this.span = null;
  }

  private async readNow(
    seg: Segment,
    fh: FileHandle,
    offset: number,
    lim: ReadLimits,
    reuse: ReadBatch | undefined,
  ): Promise<SegmentRead> {
    const size = seg.size;
    const expect = expectedBatchBytes(seg, lim);
    const span = this.span;
    if (
      span !== null &&
      span.seg === seg &&
      span.gen === seg.generation &&
      offset >= span.parsedTo &&
      offset < span.fileOff + span.len &&
      (span.fileOff + span.len - offset >= expect || span.fileOff + span.len >= size)
    ) {
      const r = this.parse(span, offset, span.fileOff + span.len >= size, lim, reuse);
      if (r.batch.count > 0 || r.fault !== null) return r;
    }
    this.span = null;
    const gen = seg.generation;
    const want = Math.min(
      size - offset,
      Math.max(Math.min(expect * SPAN_BATCHES, MAX_SPAN), MIN_SPAN, expect),
      MAX_READ,
    );
    let got = await this.readAt(fh, Math.max(want, 0), offset);
    if (got >= FRAME_HEADER_BYTES) {
      const first = FRAME_HEADER_BYTES + this.frames.view.getUint32(0, true);
      if (first > got && first <= FRAME_HEADER_BYTES + lim.maxBody && offset + first <= size) {
        got = await this.readAt(fh, first, offset);
      }
    }
    const fresh: ReadSpan = { seg, gen, fileOff: offset, len: got, parsedTo: offset };
    this.span = fresh;
    return this.parse(fresh, offset, offset + got >= size, lim, reuse);
  }

  private async readAt(fh: FileHandle, bytes: number, offset: number): Promise<number> {
    if (bytes > this.arena.bytes.length) {
      this.arena.reserve(bytes);
      this.frames = framesIn(this.arena);
    }
    return (await fh.read(this.arena.bytes, 0, bytes, offset)).bytesRead;
  }

  private parse(span: ReadSpan, from: number, atEnd: boolean, lim: ReadLimits, reuse?: ReadBatch): SegmentRead {
    const f = this.frames;
    const data = f.bytes;
    const fileOff = span.fileOff;
    const got = span.len;
    const cap = Math.min(lim.maxRecords, Math.floor((got - (from - fileOff)) / FRAME_HEADER_BYTES) + 1);
    const store = columnsFor(cap, reuse);
    const { seqs, tsMs, codes, starts, ends } = store;
    let n = 0;
    let bytes = 0;
    let off = from - fileOff;
    let prevSeq = lim.afterSeq;
    let fault: SegmentRead['fault'] = null;
    while (off < got && n < cap) {
      const r = checkFrame(f, off, got, lim.maxBody);
      if (typeof r !== 'number') {
        if ((r === 'short-header' || r === 'short-body') && !atEnd) break;
        fault = { offset: fileOff + off, fault: r, prevSeq };
        break;
      }
      const seq = frameSeq(f, off);
      if (seq > lim.maxSeq) break;
      const bodyStart = off + FRAME_HEADER_BYTES;
      const prefix = seqPrefixLength(seq);
      if (n > 0 && bytes + prefix + r > lim.maxBytes) break;
      if (seq > lim.afterSeq) {
        seqs[n] = seq;
        tsMs[n] = frameTs(f, off);
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
    // The records leave the arena in one piece, gaps included (see ReadBatch).
    const first = n > 0 ? starts[0]! : 0;
    const out = dataFor(store, n > 0 ? ends[n - 1]! - first : 0);
    data.copy(out, 0, first, first + out.length);
    for (let i = 0; i < n; i++) {
      starts[i]! -= first;
      ends[i]! -= first;
    }
    const batch: ReadBatch = {
      count: n,
      seqs: seqs.subarray(0, n),
      tsMs: tsMs.subarray(0, n),
      codes: codes.subarray(0, n),
      data: out,
      starts: starts.subarray(0, n),
      ends: ends.subarray(0, n),
      bytes,
      lastSeq: prevSeq,
    };
    Object.defineProperty(batch, STORE, { value: store });
    return { batch, nextOffset: fileOff + off, fault };
  }
}

/** The full-size memory behind a batch the reader made (the batch's fields are views of it). */
interface Store {
  seqs: Float64Array;
  tsMs: Float64Array;
  codes: Uint8Array;
  starts: Uint32Array;
  ends: Uint32Array;
  data: Buffer;
}

/** Where a batch keeps its Store: not enumerable, so a copy of the batch (`{ ...batch }`) has none. */
const STORE = Symbol('ReadBatch.store');

/** The columns of a `reuse` batch the reader made, when they hold `cap` records; else new ones. */
function columnsFor(cap: number, reuse: ReadBatch | undefined): Store {
  const old = (reuse as { [STORE]?: Store } | undefined)?.[STORE];
  if (old !== undefined && old.seqs.length >= cap) return old;
  return {
    seqs: new Float64Array(cap),
    tsMs: new Float64Array(cap),
    codes: new Uint8Array(cap),
    starts: new Uint32Array(cap),
    ends: new Uint32Array(cap),
    data: old?.data ?? Buffer.alloc(0),
  };
}

/** `bytes` of the store's data buffer, replaced by a larger one (with room to spare) when short. */
function dataFor(store: Store, bytes: number): Buffer {
  if (store.data.length < bytes) store.data = Buffer.allocUnsafeSlow(Math.max(bytes, store.data.length * 2, 64 << 10));
  return store.data.subarray(0, bytes);
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
