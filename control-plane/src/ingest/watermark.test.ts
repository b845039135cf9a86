import { describe, expect, it } from 'vitest';
import { advance, coalesce, sameProgress } from './watermark.js';

describe('commit watermark', () => {
  it('advances over a batch that starts right after the watermark', () => {
    expect(advance({ committedSeq: 0, pending: [] }, [[1, 500]])).toEqual({ committedSeq: 500, pending: [] });
  });

  it('keeps a batch that arrives ahead of a gap pending and does not advance', () => {
    expect(advance({ committedSeq: 500, pending: [] }, [[1001, 1500]])).toEqual({
      committedSeq: 500,
      pending: [[1001, 1500]],
    });
  });

  it('advances over pending ranges once the gap is filled', () => {
    const p = advance({ committedSeq: 500, pending: [[1001, 1500]] }, [[501, 1000]]);
    expect(p).toEqual({ committedSeq: 1500, pending: [] });
  });

  it('stops at the next gap and keeps later ranges pending', () => {
    const p = advance({ committedSeq: 10, pending: [[31, 40]] }, [
      [11, 20],
      [51, 60],
    ]);
    expect(p).toEqual({
      committedSeq: 20,
      pending: [
        [31, 40],
        [51, 60],
      ],
    });
  });

  it('ignores duplicate batches at or below the watermark', () => {
    expect(advance({ committedSeq: 100, pending: [] }, [[1, 100]])).toEqual({ committedSeq: 100, pending: [] });
  });

  it('advances over a duplicate that straddles the watermark', () => {
    expect(advance({ committedSeq: 100, pending: [] }, [[51, 150]])).toEqual({ committedSeq: 150, pending: [] });
  });

  it('merges overlapping and adjacent pending ranges', () => {
    const p = advance({ committedSeq: 0, pending: [[10, 20]] }, [
      [21, 30],
      [15, 25],
      [40, 41],
    ]);
    expect(p.pending).toEqual([
      [10, 30],
      [40, 41],
    ]);
  });

  it('reaches the same watermark whatever the arrival order', () => {
    const batches: [number, number][] = Array.from({ length: 20 }, (_, i) => [i * 10 + 1, i * 10 + 10]);
    const shuffled = [...batches].sort((a, b) => ((a[0] * 7919) % 23) - ((b[0] * 7919) % 23));
    let p = { committedSeq: 0, pending: [] as (readonly [number, number])[] };
    for (const b of shuffled) p = advance(p, [b]);
    expect(p).toEqual({ committedSeq: 200, pending: [] });
  });

  it('coalesces unsorted input', () => {
    expect(
      coalesce([
        [5, 6],
        [1, 2],
        [3, 4],
      ]),
    ).toEqual([[1, 6]]);
  });

  it('tells equal progress from changed progress', () => {
    expect(sameProgress({ committedSeq: 1, pending: [[3, 4]] }, { committedSeq: 1, pending: [[3, 4]] })).toBe(true);
    expect(sameProgress({ committedSeq: 1, pending: [] }, { committedSeq: 2, pending: [] })).toBe(false);
  });
});
