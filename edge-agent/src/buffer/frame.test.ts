import { describe, expect, it } from 'vitest';
import { crc32c, crc32cWords, wordsOf } from './crc32c.js';
import { CrcArena } from './crc32c-wasm.js';
import {
  checkFrame,
  encodeSeqPrefix,
  FRAME_HEADER_BYTES,
  frameSeq,
  framesIn,
  framesOf,
  frameTs,
  seqPrefixLength,
  writeFrame,
} from './frame.js';
import { LiveSet } from './live-set.js';
import { decodeSeqField } from './test-support.js';

describe('crc32c', () => {
  it('matches the published check value and chains across calls', () => {
    const data = Buffer.from('123456789');
    expect(crc32c(data)).toBe(0xe3069283);
    expect(crc32c(data, 4, 9, crc32c(data, 0, 4))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(32))).toBe(0x8a9136aa);
  });

  it('gives the same checksum through the word-loading path at every alignment and length', () => {
    const backing = new Uint8Array(700);
    let x = 12345;
    for (let i = 0; i < backing.length; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      backing[i] = x >>> 24;
    }
    // Views at odd offsets into a shared ArrayBuffer, as pooled Buffers are.
    for (const viewOff of [0, 1, 2, 3, 5]) {
      const buf = backing.subarray(viewOff);
      const words = wordsOf(buf);
      for (let start = 0; start < 8; start++) {
        for (const len of [0, 1, 3, 4, 15, 16, 17, 31, 32, 33, 217, 600]) {
          expect(crc32cWords(buf, words, start, start + len)).toBe(crc32c(buf, start, start + len));
        }
      }
    }
    const check = Buffer.from('123456789');
    expect(crc32cWords(check, wordsOf(check), 0, 9)).toBe(0xe3069283);
  });
});

describe('CrcArena', () => {
  it('gives the JS checksum at every offset and length, and keeps its bytes when it grows', () => {
    const arena = new CrcArena(1000);
    const bytes = arena.bytes;
    let x = 99;
    for (let i = 0; i < 1000; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      bytes[i] = x >>> 24;
    }
    for (let start = 0; start < 20; start++) {
      for (const len of [0, 1, 3, 4, 15, 16, 17, 31, 32, 33, 217, 600]) {
        expect(arena.crc(start, start + len)).toBe(crc32c(bytes, start, start + len));
      }
    }
    const before = Buffer.from(bytes.subarray(0, 1000));
    arena.reserve(3 << 20);
    expect(arena.bytes.length).toBeGreaterThanOrEqual(3 << 20);
    expect(Buffer.compare(arena.bytes.subarray(0, 1000), before)).toBe(0);
    arena.bytes.write('123456789', (3 << 20) - 9, 'latin1');
    expect(arena.crc((3 << 20) - 9, 3 << 20)).toBe(0xe3069283);
  });

  it('falls back to a plain buffer and the JS checksum where WebAssembly is missing', () => {
    const wasm = Object.getOwnPropertyDescriptor(globalThis, 'WebAssembly')!;
    Reflect.deleteProperty(globalThis, 'WebAssembly');
    let arena: CrcArena;
    try {
      arena = new CrcArena(100);
    } finally {
      Object.defineProperty(globalThis, 'WebAssembly', wasm);
    }
    arena.bytes.write('123456789', 3, 'latin1');
    expect(arena.crc(3, 12)).toBe(0xe3069283);
    arena.reserve(5000);
    expect(arena.bytes.length).toBeGreaterThanOrEqual(5000);
    expect(arena.crc(3, 12)).toBe(0xe3069283);
  });
});

describe('encodeSeqPrefix', () => {
  it('writes protobuf field 1 as tag 0x08 and a varint, for seqs up to 2^53 - 1', () => {
    for (const seq of [
      0,
      1,
      127,
      128,
      300,
      16_383,
      16_384,
      2 ** 21 - 1,
      2 ** 21,
      2 ** 28 - 1,
      2 ** 28,
      2 ** 31 - 1,
      2 ** 31,
      2 ** 31 + 1,
      2 ** 32 - 1,
      2 ** 32,
      2 ** 35 + 17,
      Number.MAX_SAFE_INTEGER,
    ]) {
      const out = new Uint8Array(12);
      const end = encodeSeqPrefix(seq, out, 1);
      expect(end - 1).toBe(seqPrefixLength(seq));
      expect(decodeSeqField(out.subarray(1, end)).seq).toBe(seq);
    }
    // Known bytes from the protobuf encoding guide: 150 -> 08 96 01.
    const out = new Uint8Array(3);
    encodeSeqPrefix(150, out, 0);
    expect(Array.from(out)).toEqual([0x08, 0x96, 0x01]);
  });
});

describe('frames', () => {
  it('detect a flipped bit anywhere in the checksummed part', () => {
    const buf = Buffer.alloc(100);
    const f = framesOf(buf);
    const end = writeFrame(f, 0, 42, 1.5, 3, new Uint8Array([1, 2, 3, 4, 5]));
    expect(checkFrame(f, 0, end, 1000)).toBe(5);
    for (let i = 8; i < end; i++) {
      buf[i]! ^= 1;
      expect(checkFrame(f, 0, end, 1000)).not.toBe(5);
      buf[i]! ^= 1;
    }
    expect(checkFrame(f, 0, FRAME_HEADER_BYTES + 2, 1000)).toBe('short-body');
    expect(checkFrame(f, 0, end, 4)).toBe('bad-length');
  });

  it('are the same bytes whether written through an arena or a plain buffer', () => {
    const arena = new CrcArena(4096);
    const plain = framesOf(Buffer.alloc(4096));
    const body = Uint8Array.from({ length: 217 }, (_, i) => (i * 37) & 0xff);
    // Seqs past 2^32 and odd offsets exercise the u64 split and unaligned header fields.
    for (const [off, seq] of [
      [0, 1],
      [3, 2 ** 32 + 5],
      [301, Number.MAX_SAFE_INTEGER],
    ] as const) {
      const end = writeFrame(framesIn(arena), off, seq, 1_700_000_000_123.5, 2, body);
      expect(writeFrame(plain, off, seq, 1_700_000_000_123.5, 2, body)).toBe(end);
      expect(Buffer.compare(arena.bytes.subarray(off, end), plain.bytes.subarray(off, end))).toBe(0);
      expect(checkFrame(plain, off, end, 1000)).toBe(217);
      expect(frameSeq(plain, off)).toBe(seq);
      expect(frameTs(plain, off)).toBe(1_700_000_000_123.5);
    }
  });
});

describe('LiveSet', () => {
  it('counts dense and sparse seq sets exactly', () => {
    const dense = new LiveSet(10);
    for (let s = 10; s < 110; s++) dense.add(s);
    expect(dense.dense).toBe(true);
    expect(dense.countIn(0, 1000)).toBe(100);
    expect(dense.countIn(49, 59)).toBe(10);

    const sparse = new LiveSet(10);
    const kept = [12, 13, 20, 21, 22, 40, 99, 100, 101, 300];
    for (const s of kept) sparse.add(s);
    expect(sparse.dense).toBe(false);
    for (const [lo, hi] of [
      [0, 1000],
      [12, 21],
      [11, 12],
      [21, 99],
      [100, 299],
      [100, 300],
    ] as const) {
      expect(sparse.countIn(lo, hi)).toBe(kept.filter((s) => s > lo && s <= hi).length);
    }
    expect(sparse.has(21)).toBe(true);
    expect(sparse.has(23)).toBe(false);
  });
});
