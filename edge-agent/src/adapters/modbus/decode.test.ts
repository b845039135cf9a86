import { describe, expect, it } from 'vitest';
import { decodeWords, encodeWords } from './decode.js';
import { planReads } from './plan.js';

describe('decodeWords', () => {
  it('reads signed and unsigned 16-bit registers', () => {
    expect(decodeWords([0xfffe], 0, 'int16', 'big')).toBe(-2);
    expect(decodeWords([0xfffe], 0, 'uint16', 'big')).toBe(65534);
  });

  it('honours the word order of 32-bit values', () => {
    expect(decodeWords([0x0001, 0x0002], 0, 'uint32', 'big')).toBe(0x00010002);
    expect(decodeWords([0x0001, 0x0002], 0, 'uint32', 'little')).toBe(0x00020001);
    expect(decodeWords([0xffff, 0xfff6], 0, 'int32', 'big')).toBe(-10);
    // 123.5 as IEEE 754 single is 0x42F7_0000
    expect(decodeWords([0x42f7, 0x0000], 0, 'float32', 'big')).toBe(123.5);
    expect(decodeWords([0x0000, 0x42f7], 0, 'float32', 'little')).toBe(123.5);
  });

  it('round-trips through encodeWords', () => {
    for (const order of ['big', 'little'] as const) {
      expect(decodeWords(encodeWords(-123456, 'int32', order), 0, 'int32', order)).toBe(-123456);
      expect(decodeWords(encodeWords(3_000_000_000, 'uint32', order), 0, 'uint32', order)).toBe(3_000_000_000);
      expect(decodeWords(encodeWords(-0.15625, 'float32', order), 0, 'float32', order)).toBe(-0.15625);
    }
  });
});

describe('planReads', () => {
  it('merges nearby registers of one kind into one read and splits across kinds and large holes', () => {
    const ranges = planReads(
      [
        { register: 'holding', address: 10, dataType: 'float32' },
        { register: 'holding', address: 0, dataType: 'uint16' },
        { register: 'input', address: 1, dataType: 'int16' },
        { register: 'holding', address: 200, dataType: 'uint16' },
        { register: 'coil', address: 5, dataType: 'bool' },
        { register: 'coil', address: 7, dataType: 'bool' },
      ],
      16,
    );
    expect(ranges).toEqual([
      {
        register: 'holding',
        start: 0,
        count: 12,
        items: [
          { channel: 1, offset: 0 },
          { channel: 0, offset: 10 },
        ],
      },
      { register: 'holding', start: 200, count: 1, items: [{ channel: 3, offset: 0 }] },
      { register: 'input', start: 1, count: 1, items: [{ channel: 2, offset: 0 }] },
      {
        register: 'coil',
        start: 5,
        count: 3,
        items: [
          { channel: 4, offset: 0 },
          { channel: 5, offset: 2 },
        ],
      },
    ]);
  });

  it('never builds a register read longer than the protocol allows', () => {
    const channels = Array.from({ length: 200 }, (_, i) => ({
      register: 'input' as const,
      address: i,
      dataType: 'uint16' as const,
    }));
    const ranges = planReads(channels, 0);
    expect(ranges.map((r) => r.count)).toEqual([125, 75]);
  });
});
