import type { BufferStatus } from '@millwright/proto';
import type { BufferStats } from '../../buffer/types.js';
import type { SyncStats } from '../../sync/record-sync.js';

/** The buffer part of a heartbeat: backlog, cursors, last sync and drops by class. */
export function bufferStatus(b: BufferStats, s: SyncStats): BufferStatus {
  const droppedByClass: Record<string, number> = {};
  for (const counts of [b.drops.ttl, b.drops.evicted, b.drops.rejected]) {
    for (const [cls, c] of Object.entries(counts))
      if (c.records > 0) droppedByClass[cls] = (droppedByClass[cls] ?? 0) + c.records;
  }
  return {
    unsentRecords: b.unsent,
    uncommittedRecords: b.uncommitted,
    bytesOnDisk: b.bytesOnDisk,
    capacityBytes: b.capacityBytes,
    headSeq: b.headSeq,
    committedSeq: b.commitCursor,
    lastSyncMs: s.lastCommitMs || s.lastAckMs,
    droppedByClass,
  };
}
