import { describe, expect, it } from 'vitest';
import type { IngestRecord } from '../../domain/records.js';
import { unstored } from './records-store.js';

const rec = (seq: number): IngestRecord => ({ seq, tsMs: 0, class: 1, kind: 'prediction', body: { seq } });
const seqs = (rs: IngestRecord[]) => rs.map((r) => r.seq);

describe('unstored', () => {
  it('keeps only records above the watermark and outside the pending ranges', () => {
    const g = { records: [1, 2, 3, 4, 5, 6, 7, 8, 9].map(rec) };
    expect(seqs(unstored(g, { committedSeq: 3, pending: [[5, 6]] }))).toEqual([4, 7, 8, 9]);
  });

  it('keeps a seq that arrives twice in one group once', () => {
    const g = { records: [4, 5, 4, 5, 6].map(rec) };
    expect(seqs(unstored(g, { committedSeq: 3, pending: [] }))).toEqual([4, 5, 6]);
  });

  it('fails when the stream row is missing instead of guessing', () => {
    expect(() => unstored({ records: [rec(1)] }, undefined)).toThrow(/vanished/);
  });
});
