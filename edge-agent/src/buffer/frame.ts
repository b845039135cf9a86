/**
 * On-disk framing of one segment file:
 *
 *   segment header (16 B): magic "MWSG" | u32 version=1 | u64 first seq (little endian)
 *   record frame   (25 B + body):
 *     u32 bodyLen | u32 crc32c(bytes 8 .. end of body) | u64 seq | f64 tsMs | u8 class | body
 *
 * `body` is an encoded protobuf `Record` without field 1 (seq). The full message is built on read
 * in place: once a frame is verified, `0x08 varint(seq)` is written over the tail of its own
 * header (at most 9 of the 17 header bytes after the checksum), so a record's full bytes are one
 * contiguous run of the read bytes, with no per-record copy and no extra bytes on disk.
 *
 * The format is unchanged since version 1 (the checksum is still CRC-32C: how fast it is computed
 * changed, see ./crc32c-wasm.ts, not what it is). Group commits write frames with O_DSYNC
 * (./writer.ts); that changes when a write is durable, not what is on disk.
 */
import { crc32cWords, wordsOf } from './crc32c.js';
import type { CrcArena } from './crc32c-wasm.js';
import { MAX_CLASS_CODE } from './record-class.js';

export const SEGMENT_MAGIC = 0x4753574d; // "MWSG" little endian
export const SEGMENT_VERSION = 1;
export const SEGMENT_HEADER_BYTES = 16;
export const FRAME_HEADER_BYTES = 25;
/** Offset where the checksummed bytes of a frame start. */
const CRC_FROM = 8;
const TWO_32 = 0x1_0000_0000;

/** Bytes that `encodeSeqPrefix` writes for `seq` (tag byte plus varint). */
export function seqPrefixLength(seq: number): number {
  if (seq < 0x80) return 2;
  if (seq < 0x4000) return 3;
  if (seq < 0x20_0000) return 4;
  if (seq < 0x1000_0000) return 5;
  let n = 6;
  for (let v = Math.floor(seq / 0x8_0000_0000); v > 0; v = Math.floor(v / 0x80)) n++;
  return n;
}

/**
 * Writes protobuf field 1 of `Record` (tag 0x08, then varint `seq`) at `out[offset]`.
 * Prepended to a body encoded without field 1 it yields the full `Record` message.
 * @returns the offset after the written bytes.
 */
export function encodeSeqPrefix(seq: number, out: Uint8Array, offset: number): number {
  out[offset++] = 0x08;
  // Integer ops while the value fits 31 bits (every seq for a long time), float ops above.
  while (seq >= 0x8000_0000) {
    out[offset++] = (seq % 0x80) | 0x80;
    seq = Math.floor(seq / 0x80);
  }
  while (seq >= 0x80) {
    out[offset++] = (seq & 0x7f) | 0x80;
    seq >>>= 7;
  }
  out[offset++] = seq;
  return offset;
}

/** Writes the segment file header into `out[0, 16)`. */
export function writeSegmentHeader(out: Buffer, firstSeq: number): void {
  out.writeUInt32LE(SEGMENT_MAGIC, 0);
  out.writeUInt32LE(SEGMENT_VERSION, 4);
  writeU64(out, 8, firstSeq);
}

/** True when `buf[0, 16)` is a segment header of this format. */
export function isSegmentHeader(buf: Buffer): boolean {
  return buf.length >= SEGMENT_HEADER_BYTES && buf.readUInt32LE(0) === SEGMENT_MAGIC && buf.readUInt32LE(4) === 1;
}

/** CRC-32C of bytes `[start, end)` of the one buffer it was made for (see `Frames`). */
export type Checksum = (start: number, end: number) => number;

/**
 * A buffer of frames with the views the frame functions read and write it through (a DataView
 * for the header fields: several times faster than Buffer's methods) and its checksum (the JS
 * word path, or a CrcArena's). Make it once per buffer: making one costs more than a frame.
 */
export interface Frames {
  bytes: Buffer;
  view: DataView;
  crc: Checksum;
}

export function framesOf(bytes: Buffer, crc?: Checksum): Frames {
  const words = crc ? null : wordsOf(bytes);
  return {
    bytes,
    view: new DataView(bytes.buffer, bytes.byteOffset, bytes.length),
    crc: crc ?? ((start, end) => crc32cWords(bytes, words!, start, end)),
  };
}

/** The frames of `arena`'s current bytes, checksummed by the arena (make it again after it grows). */
export function framesIn(arena: CrcArena): Frames {
  return framesOf(arena.bytes, (start, end) => arena.crc(start, end));
}

/** Frames one record into `f` at `off` (which must have room); returns the offset after it. */
export function writeFrame(f: Frames, off: number, seq: number, tsMs: number, code: number, body: Uint8Array): number {
  const { bytes, view } = f;
  const len = body.length;
  view.setUint32(off, len, true);
  view.setUint32(off + 8, seq >>> 0, true);
  view.setUint32(off + 12, Math.floor(seq / TWO_32), true);
  view.setFloat64(off + 16, tsMs, true);
  bytes[off + 24] = code;
  bytes.set(body, off + FRAME_HEADER_BYTES);
  const end = off + FRAME_HEADER_BYTES + len;
  view.setUint32(off + 4, f.crc(off + CRC_FROM, end), true);
  return end;
}

/** The seq of the frame at `off`. */
export function frameSeq(f: Frames, off: number): number {
  return f.view.getUint32(off + 8, true) + f.view.getUint32(off + 12, true) * TWO_32;
}

/** The timestamp of the frame at `off`. */
export function frameTs(f: Frames, off: number): number {
  return f.view.getFloat64(off + 16, true);
}

export function writeU64(out: Buffer, off: number, v: number): void {
  out.writeUInt32LE(v >>> 0, off);
  out.writeUInt32LE(Math.floor(v / TWO_32), off + 4);
}

export function readU64(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off) + buf.readUInt32LE(off + 4) * TWO_32;
}

/** Why a frame failed verification. */
export type FrameFault = 'short-header' | 'bad-length' | 'short-body' | 'checksum' | 'bad-class';

/**
 * Verifies the frame at `f.bytes[off]`, with `end` the end of valid bytes.
 * @returns the body length, or a fault. `short-*` at the end of a read chunk may just mean "read more".
 */
export function checkFrame(f: Frames, off: number, end: number, maxBody: number): number | FrameFault {
  if (end - off < FRAME_HEADER_BYTES) return 'short-header';
  const view = f.view;
  const len = view.getUint32(off, true);
  if (len > maxBody) return 'bad-length';
  const frameEnd = off + FRAME_HEADER_BYTES + len;
  if (frameEnd > end) return 'short-body';
  if (f.crc(off + CRC_FROM, frameEnd) !== view.getUint32(off + 4, true)) return 'checksum';
  const code = f.bytes[off + 24]!;
  if (code < 1 || code > MAX_CLASS_CODE) return 'bad-class';
  return len;
}

/** Frame size on disk for a body of `bodyLen` bytes. */
export function frameBytes(bodyLen: number): number {
  return FRAME_HEADER_BYTES + bodyLen;
}
