/**
 * CRC-32C (Castagnoli), slice-by-16 table implementation: no dependency. Slice-by-16 consumes 16
 * bytes per step with 16 independent table lookups (vs 8 for slice-by-8), which shortens the
 * loop-carried dependency chain and measured ~20% faster in V8 on 200-byte records.
 */

const POLY = 0x82f63b78;
const SLICES = 16;

/** The lookup tables of the slice-by-16 algorithm, table k at `k * 256`. */
function makeTables(): Int32Array {
  const t = new Int32Array(SLICES * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let k = 1; k < SLICES; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
}

const T = makeTables();
/** The tables, for the WebAssembly version (./crc32c-wasm.ts); never modify. */
export const CRC32C_TABLES: Readonly<Int32Array> = T;

/** Word loads below assume a little-endian host (x86, ARM as run); elsewhere the byte path is used. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * A 32-bit view of the whole memory under `buf`, for `crc32cWords` (create it once per buffer:
 * creating a view costs more than checksumming a small record).
 */
export function wordsOf(buf: Uint8Array): Int32Array {
  return new Int32Array(buf.buffer, 0, buf.buffer.byteLength >>> 2);
}

/**
 * CRC-32C of `buf[start, end)` like `crc32c`, but reading the aligned middle of the span as 32-bit
 * words through `words` (= `wordsOf(buf)`): 4 loads per 16 bytes instead of 16, ~30% faster.
 * @returns the checksum as an unsigned 32-bit number.
 */
export function crc32cWords(buf: Uint8Array, words: Int32Array, start: number, end: number): number {
  if (!LITTLE_ENDIAN) return crc32c(buf, start, end);
  let c = -1;
  let i = start;
  const base = buf.byteOffset;
  while (i < end && ((base + i) & 3) !== 0) c = T[(c ^ buf[i++]!) & 0xff]! ^ (c >>> 8);
  const end16 = end - ((end - i) & 15);
  let w = (base + i) >>> 2;
  while (i < end16) {
    const a = c ^ words[w]!;
    const b = words[w + 1]!;
    const d = words[w + 2]!;
    const e = words[w + 3]!;
    c =
      T[3840 + (a & 0xff)]! ^
      T[3584 + ((a >>> 8) & 0xff)]! ^
      T[3328 + ((a >>> 16) & 0xff)]! ^
      T[3072 + (a >>> 24)]! ^
      T[2816 + (b & 0xff)]! ^
      T[2560 + ((b >>> 8) & 0xff)]! ^
      T[2304 + ((b >>> 16) & 0xff)]! ^
      T[2048 + (b >>> 24)]! ^
      T[1792 + (d & 0xff)]! ^
      T[1536 + ((d >>> 8) & 0xff)]! ^
      T[1280 + ((d >>> 16) & 0xff)]! ^
      T[1024 + (d >>> 24)]! ^
      T[768 + (e & 0xff)]! ^
      T[512 + ((e >>> 8) & 0xff)]! ^
      T[256 + ((e >>> 16) & 0xff)]! ^
      T[e >>> 24]!;
    i += 16;
    w += 4;
  }
  while (i < end) c = T[(c ^ buf[i++]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * CRC-32C of `buf[start, end)`, continuing from `seed` (the CRC of the bytes before, 0 to start).
 * @returns the checksum as an unsigned 32-bit number.
 */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length, seed = 0): number {
  let c = ~seed;
  let i = start;
  const end16 = end - ((end - start) & 15);
  while (i < end16) {
    const a = c ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24));
    c =
      T[3840 + (a & 0xff)]! ^
      T[3584 + ((a >>> 8) & 0xff)]! ^
      T[3328 + ((a >>> 16) & 0xff)]! ^
      T[3072 + (a >>> 24)]! ^
      T[2816 + buf[i + 4]!]! ^
      T[2560 + buf[i + 5]!]! ^
      T[2304 + buf[i + 6]!]! ^
      T[2048 + buf[i + 7]!]! ^
      T[1792 + buf[i + 8]!]! ^
      T[1536 + buf[i + 9]!]! ^
      T[1280 + buf[i + 10]!]! ^
      T[1024 + buf[i + 11]!]! ^
      T[768 + buf[i + 12]!]! ^
      T[512 + buf[i + 13]!]! ^
      T[256 + buf[i + 14]!]! ^
      T[buf[i + 15]!]!;
    i += 16;
  }
  while (i < end) c = T[(c ^ buf[i++]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
