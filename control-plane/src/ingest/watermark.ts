import type { SeqRange } from '../domain/records.js';

/** The committed state of one (agent, buffer) sequence space. */
export interface StreamProgress {
  /** Every seq <= committedSeq is stored. */
  committedSeq: number;
  /** Stored ranges above committedSeq + 1 (batches that arrived out of order), sorted and disjoint. */
  pending: SeqRange[];
}

/**
 * Adds newly stored ranges and advances the watermark as far as storage is contiguous from it.
 * Pure: batches may arrive out of order across replicas, so gaps wait in `pending` until filled.
 */
export function advance(progress: StreamProgress, stored: readonly SeqRange[]): StreamProgress {
  let committedSeq = progress.committedSeq;
  const merged = coalesce([...progress.pending, ...stored].filter(([, last]) => last > committedSeq));
  let i = 0;
  while (i < merged.length && merged[i]![0] <= committedSeq + 1) {
    committedSeq = Math.max(committedSeq, merged[i]![1]);
    i++;
  }
  return { committedSeq, pending: merged.slice(i) };
}

/** Sorts and merges overlapping or adjacent ranges. */
export function coalesce(ranges: readonly SeqRange[]): SeqRange[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [first, last] of sorted) {
    const prev = out.at(-1);
    if (prev && first <= prev[1] + 1) prev[1] = Math.max(prev[1], last);
    else out.push([first, last]);
  }
  return out;
}

export function sameProgress(a: StreamProgress, b: StreamProgress): boolean {
  return (
    a.committedSeq === b.committedSeq &&
    a.pending.length === b.pending.length &&
    a.pending.every((r, i) => r[0] === b.pending[i]![0] && r[1] === b.pending[i]![1])
  );
}
