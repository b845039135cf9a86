/** Records appended since the last group commit, framed in one reusable buffer. */
import { CrcArena } from './crc32c-wasm.js';
import { FRAME_HEADER_BYTES, type Frames, framesIn, writeFrame } from './frame.js';

export interface Waiter {
  firstSeq: number;
  resolve(firstSeq: number): void;
  reject(err: unknown): void;
}

export class WriteBatch {
  /** Frames are built where the checksum runs: `buf` is the arena's bytes. */
  private readonly arena = new CrcArena(1 << 20);
  private frames: Frames = framesIn(this.arena);
  buf = this.arena.bytes;
  len = 0;
  n = 0;
  firstSeq = 0;
  codes = new Uint8Array(4096);
  ts = new Float64Array(4096);
  frameLens = new Uint32Array(4096);
  /** Record indexes where a new segment starts (the segment is named by that record's seq). */
  breaks: number[] = [];
  /** Byte offsets in `buf` of those records. */
  breakOffsets: number[] = [];
  waiters: Waiter[] = [];

  /** Makes room for `records` more records of `bytes` framed bytes in total. */
  reserve(bytes: number, records: number): void {
    if (this.len + bytes > this.buf.length) {
      this.arena.reserve(this.len + bytes);
      this.buf = this.arena.bytes;
      this.frames = framesIn(this.arena);
    }
    if (this.n + records > this.codes.length) {
      const cap = Math.max(this.codes.length * 2, this.n + records);
      this.codes = grow(this.codes, new Uint8Array(cap));
      this.ts = grow(this.ts, new Float64Array(cap));
      this.frameLens = grow(this.frameLens, new Uint32Array(cap));
    }
  }

  /** Frames one record; `reserve` must have made room. */
  push(seq: number, code: number, tsMs: number, body: Uint8Array): void {
    if (this.n === 0) this.firstSeq = seq;
    this.len = writeFrame(this.frames, this.len, seq, tsMs, code, body);
    this.codes[this.n] = code;
    this.ts[this.n] = tsMs;
    this.frameLens[this.n] = FRAME_HEADER_BYTES + body.length;
    this.n++;
  }

  markBreak(): void {
    this.breaks.push(this.n);
    this.breakOffsets.push(this.len);
  }

  reset(): void {
    this.len = 0;
    this.n = 0;
    this.breaks.length = 0;
    this.breakOffsets.length = 0;
    this.waiters = [];
  }
}

function grow<T extends Uint8Array | Float64Array | Uint32Array>(from: T, to: T): T {
  to.set(from as never);
  return to;
}
