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
 * subarray of the read buffer, with no copy and no extra bytes on disk.
 */
import { crc32c, crc32cWords } from './crc32c.js';
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
  let n = 2;
  while (seq >= 0x80) {
    seq = Math.floor(seq / 0x80);
    n++;
  }
  return n;
}

/**
 * Writes protobuf field 1 of `Record` (tag 0x08, then varint `seq`) at `out[offset]`.
 * Prepended to a body encoded without field 1 it yields the full `Record` message.
 * @returns the offset after the written bytes.
 */
export function encodeSeqPrefix(seq: number, out: Uint8Array, offset: number): number {
  out[offset++] = 0x08;
  while (seq >= 0x80) {
    out[offset++] = (seq % 0x80) | 0x80;
    seq = Math.floor(seq / 0x80);
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

/**
 * Frames one record into `out` at `off` (which must have room); returns the offset after it.
 * `words`: `wordsOf(out)`, for the faster checksum.
 */
export function writeFrame(
  out: Buffer,
  off: number,
  seq: number,
  tsMs: number,
  code: number,
  body: Uint8Array,
  words?: Int32Array,
): number {
  const len = body.length;
  out.writeUInt32LE(len, off);
  writeU64(out, off + 8, seq);
  out.writeDoubleLE(tsMs, off + 16);
  out[off + 24] = code;
  out.set(body, off + FRAME_HEADER_BYTES);
  const end = off + FRAME_HEADER_BYTES + len;
  const crc = words ? crc32cWords(out, words, off + CRC_FROM, end) : crc32c(out, off + CRC_FROM, end);
  out.writeUInt32LE(crc, off + 4);
  return end;
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
 * Verifies the frame at `buf[off]`, with `end` the end of valid bytes in `buf`.
 * `words`: `wordsOf(buf)`, for the faster checksum (same result).
 * @returns the body length, or a fault. `short-*` at the end of a read chunk may just mean "read more".
 */
export function checkFrame(
  buf: Buffer,
  off: number,
  end: number,
  maxBody: number,
  words?: Int32Array,
): number | FrameFault {
  if (end - off < FRAME_HEADER_BYTES) return 'short-header';
  const len = buf.readUInt32LE(off);
  if (len > maxBody) return 'bad-length';
  const frameEnd = off + FRAME_HEADER_BYTES + len;
  if (frameEnd > end) return 'short-body';
  const crc = words ? crc32cWords(buf, words, off + CRC_FROM, frameEnd) : crc32c(buf, off + CRC_FROM, frameEnd);
  if (crc !== buf.readUInt32LE(off + 4)) return 'checksum';
  const code = buf[off + 24]!;
  if (code < 1 || code > MAX_CLASS_CODE) return 'bad-class';
  return len;
}

/** Frame size on disk for a body of `bodyLen` bytes. */
export function frameBytes(bodyLen: number): number {
  return FRAME_HEADER_BYTES + bodyLen;
}
