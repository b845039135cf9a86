import { describe, expect, it } from 'vitest';
import { Quality } from '../domain/channel.js';
import { RawWindowCollector } from './raw-windows.js';

function block(channel: string, t0Ms: number, values: number[], flags?: number[]) {
  return {
    channel,
    t0Ms,
    sampleRateHz: 1000,
    values: Float64Array.from(values),
    length: values.length,
    flags: Uint8Array.from(flags ?? values.map(() => 0)),
  };
}

describe('RawWindowCollector', () => {
  it('emits one synchronized window per period even when one channel runs ahead', () => {
    const out: { start: number; a: number[]; b: number[] }[] = [];
    const c = new RawWindowCollector(['a', 'b'], 3, 10, (w, start) =>
      out.push({ start, a: [...w[0]!], b: [...w[1]!] }),
    );
    c.push(block('a', 0, [1, 2, 3]));
    // Channel a is already into the next period before b completes the first one.
    c.push(block('a', 10, [4, 5, 6]));
    c.push(block('b', 0, [7, 8, 9]));
    c.push(block('b', 10, [10, 11, 12]));
    expect(out).toEqual([
      { start: 0, a: [1, 2, 3], b: [7, 8, 9] },
      { start: 10, a: [4, 5, 6], b: [10, 11, 12] },
    ]);
  });

  it('holds spike-flagged points at the last good value and skips samples before the window start', () => {
    const out: number[][] = [];
    const c = new RawWindowCollector(['a'], 3, 5, (w) => out.push([...w[0]!]));
    c.push(block('a', 0, [1, 50, 2], [0, Quality.SPIKE, 0]));
    c.push(block('a', 3, [3, 4, 5, 6, 7]));
    expect(out).toEqual([
      [1, 1, 2],
      [5, 6, 7],
    ]);
  });

  it('hands a window out once even when its consumer throws', () => {
    const starts: number[] = [];
    const c = new RawWindowCollector(['a'], 2, 10, (_, start) => {
      starts.push(start);
      throw new Error('consumer failed');
    });
    expect(() => c.push(block('a', 0, [1, 2]))).toThrow('consumer failed');
    // Later blocks of the same period must not hand the failed window out again.
    c.push(block('a', 2, [3, 4]));
    c.push(block('a', 4, [5, 6]));
    expect(() => c.push(block('a', 10, [7, 8]))).toThrow('consumer failed');
    expect(starts).toEqual([0, 10]);
  });
});
