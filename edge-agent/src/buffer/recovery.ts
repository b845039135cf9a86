/**
 * Open-time recovery: removes leftovers of interrupted renames and compactions, verifies every
 * segment frame by frame, cuts a torn tail off the last segment (a write that power loss
 * interrupted: never acknowledged) and quarantines the rest of any segment at a bad frame that is
 * not such a tail (bit rot, a bad sector): loud, reported, never skipped.
 */
import { mkdir, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir } from '../fs-atomic.js';
import { quarantineTail, truncateDurably } from './compact.js';
import { parseSegmentName, type ScanResult, type Segment, scanSegment } from './segment.js';
import type { CorruptionEvent, OpenReport } from './types.js';

export interface Recovered {
  segments: Segment[];
  /** Highest seq any segment file held or was named for. */
  maxSeqSeen: number;
  tornTail: OpenReport['tornTail'];
  corruptions: CorruptionEvent[];
  removedTempFiles: number;
}

export async function recover(dir: string, maxBody: number, nowMs: number): Promise<Recovered> {
  await mkdir(dir, { recursive: true });
  const names = await readdir(dir);
  const out: Recovered = { segments: [], maxSeqSeen: 0, tornTail: null, corruptions: [], removedTempFiles: 0 };
  for (const name of names) {
    if (name.endsWith('.tmp') || name.endsWith('.compact')) {
      await unlink(join(dir, name));
      out.removedTempFiles++;
    }
  }
  const firstSeqs = names
    .map(parseSegmentName)
    .filter((s): s is number => s !== undefined)
    .sort((a, b) => a - b);
  for (let i = 0; i < firstSeqs.length; i++) {
    const first = firstSeqs[i]!;
    const scan = await scanSegment(dir, first, maxBody);
    out.maxSeqSeen = Math.max(out.maxSeqSeen, first - 1, scan.segment.lastSeq);
    if (scan.fault !== null) await repair(dir, scan, i === firstSeqs.length - 1, nowMs, out);
    if (scan.segment.live.count > 0) out.segments.push(scan.segment);
    else await unlink(scan.segment.path).catch(ignoreMissing);
  }
  if (firstSeqs.length > 0 || out.removedTempFiles > 0) await fsyncDir(dir);
  return out;
}

async function repair(dir: string, scan: ScanResult, isLast: boolean, nowMs: number, out: Recovered): Promise<void> {
  const seg = scan.segment;
  const f = scan.fault!;
  if (isLast && !f.validAfter && f.fault !== 'bad-header') {
    await truncateDurably(seg.path, f.offset);
    out.tornTail = { segment: seg.name, offset: f.offset, truncatedBytes: f.restBytes, fault: f.fault };
    return;
  }
  if (isLast && f.fault === 'bad-header' && scan.fileSize < 16) {
    // A segment created but never completely written: nothing in it was acknowledged.
    out.tornTail = { segment: seg.name, offset: 0, truncatedBytes: scan.fileSize, fault: f.fault };
    await unlink(seg.path);
    return;
  }
  const quarantineFile = await quarantineTail(seg.path, dir, f.offset);
  out.corruptions.push({
    segment: seg.name,
    offset: f.offset,
    fault: f.fault,
    quarantinedBytes: f.restBytes,
    quarantineFile,
    lostRecords: 0,
    atMs: nowMs,
  });
}

function ignoreMissing(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
}
