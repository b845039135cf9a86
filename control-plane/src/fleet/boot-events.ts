import type { Logger } from 'pino';
import type { HeartbeatInfo } from '../domain/fleet.js';
import { type TimelineEntry, TimelineEvent } from '../domain/timeline.js';
import type { TimelineStore } from './registry-ports.js';

/** Timeline entries for heartbeats that announce a process start (restart if the agent announced before). */
export function bootEntries(beats: HeartbeatInfo[]): TimelineEntry[] {
  return beats
    .filter((b) => b.announce)
    .map((b) => ({
      agentId: b.agentId,
      atMs: b.receivedAtMs,
      health: 'online',
      runningModelVersion: b.runningModelVersion,
      unsentRecords: b.buffer?.unsentRecords ?? 0,
      event: TimelineEvent.announce,
    }));
}

/**
 * What the heartbeat ingest calls after a flush was written: records announce/restart events. Never
 * throws: the timeline is secondary to heartbeats, which must be acked regardless.
 */
export function bootEventRecorder(deps: { store: TimelineStore; log: Logger }) {
  return async (applied: HeartbeatInfo[]): Promise<void> => {
    const entries = bootEntries(applied);
    if (entries.length === 0) return;
    try {
      await deps.store.appendBootEvents(entries);
    } catch (err) {
      deps.log.warn({ err, agents: entries.length }, 'fleet.timeline.boot_events_failed');
    }
  };
}
