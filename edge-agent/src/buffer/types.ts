/** Public shapes of the durable buffer: options, entries, read batches, stats and reports. */
import type { RecordClassName } from './record-class.js';

/** Options of `DurableBuffer.open`. */
export interface BufferOptions {
  /** Data directory; created if missing. One buffer per directory. */
  dir: string;
  /** Bytes the segment files may use in total. Must be at least 4 × `segmentBytes`. */
  capacityBytes: number;
  /** Segment files roll once they would exceed this size. @default 67108864 (64 MiB) */
  segmentBytes?: number;
  /** Largest record body accepted. @default min(4 MiB, segmentBytes / 2) */
  maxRecordBytes?: number;
  /** Time to live per class; older records are dropped even if unsent. @default none (kept until evicted) */
  ttlMs?: Partial<Record<RecordClassName, number>>;
  /** Classes capacity eviction may drop, lowest value first; others are never evicted. @default DEFAULT_EVICTION_ORDER */
  evictionOrder?: readonly RecordClassName[];
  /** Extra wait before a group commit starts, to gather more producers. @default 0 (next event-loop turn) */
  groupCommitDelayMs?: number;
  /** Appended-but-unwritten bytes above which further appends queue (backpressure). @default 16777216 */
  maxPendingBytes?: number;
  /** Minimum interval between automatic TTL passes (run after group commits). @default 10000 */
  retentionIntervalMs?: number;
  /** Wall clock in ms, for TTL. @default Date.now */
  clock?: () => number;
  /** Called after each group commit (records, bytes written): a metrics hook. Must not throw. */
  onGroupCommit?: (records: number, bytes: number) => void;
}

/** One record to append. `body` is an encoded protobuf `Record` without field 1 (seq). */
export interface AppendEntry {
  cls: RecordClassName;
  tsMs: number;
  body: Uint8Array;
}

/** Records and bytes (on disk, frame included) per class. */
export type ClassCounts = Record<RecordClassName, { records: number; bytes: number }>;

/** Everything the buffer dropped, by reason; reported upstream by the agent. */
export interface DropReport {
  /** Older than their class TTL. */
  ttl: ClassCounts;
  /** Dropped to make room for newer or more valuable records. */
  evicted: ClassCounts;
  /** Appends refused with RESOURCE_EXHAUSTED (never stored). */
  rejected: ClassCounts;
  /** Bytes lost to corruption (quarantined), with the events. */
  corruptBytes: number;
  corruptions: CorruptionEvent[];
}

/** A bad record found in a segment; the rest of that segment was moved aside. */
export interface CorruptionEvent {
  segment: string;
  offset: number;
  fault: string;
  quarantinedBytes: number;
  /** File holding the moved bytes, for forensics; null when they were a torn tail (discarded). */
  quarantineFile: string | null;
  /** Stored records known to be lost (0 when the loss cannot be counted, e.g. found at open). */
  lostRecords: number;
  atMs: number;
}

/** What `open` found and repaired. */
export interface OpenReport {
  segments: number;
  records: number;
  headSeq: number;
  sendCursor: number;
  commitCursor: number;
  /** A torn last write cut off (expected after power loss; those records were never acknowledged). */
  tornTail: { segment: string; offset: number; truncatedBytes: number; fault: string } | null;
  /** Corruption found by verification: loud, needs a look. */
  corruptions: CorruptionEvent[];
  /** Leftovers of interrupted renames or compactions that were removed. */
  removedTempFiles: number;
  /** The cursors file did not verify and was reset to 0 (everything is resent). */
  cursorsReset: boolean;
  durationMs: number;
}

export interface BufferStats {
  /** Highest durable (acknowledged) seq; 0 before the first record. */
  headSeq: number;
  sendCursor: number;
  commitCursor: number;
  unsent: number;
  uncommitted: number;
  bytesOnDisk: number;
  capacityBytes: number;
  /** Appended bytes not yet durable. */
  pendingBytes: number;
  segments: number;
  groupCommits: number;
  /** Cumulative since open. */
  drops: DropReport;
  /** Last failure of a TTL pass or eviction (the buffer stays consistent; the pass is retried). */
  lastMaintenanceError: { atMs: number; message: string; code: string | null } | null;
}
