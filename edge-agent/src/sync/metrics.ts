import { Gauge, type Registry } from 'prom-client';
import type { SyncStats } from './record-sync.js';

/**
 * Sync lag gauges, computed at scrape time: how long uncommitted records have waited for the
 * control plane's commit watermark, and how many records are still unsent or uncommitted.
 */
export function registerSyncLagMetrics(
  registry: Registry,
  read: () => { sync: SyncStats; unsent: number; uncommitted: number; startedMs: number },
  now: () => number,
): void {
  const registers = [registry];
  new Gauge({
    name: 'mw_agent_sync_lag_seconds',
    help: 'Seconds since the control plane last confirmed a commit while records wait uncommitted (0 when none wait)',
    registers,
    collect() {
      const s = read();
      const since = s.sync.lastCommitMs || s.startedMs;
      this.set(s.uncommitted > 0 ? Math.max(0, now() - since) / 1000 : 0);
    },
  });
  new Gauge({
    name: 'mw_agent_sync_ack_age_seconds',
    help: 'Seconds since the broker last acknowledged a batch (0 before the first)',
    registers,
    collect() {
      const s = read();
      this.set(s.sync.lastAckMs ? Math.max(0, now() - s.sync.lastAckMs) / 1000 : 0);
    },
  });
  new Gauge({
    name: 'mw_agent_buffer_uncommitted_records',
    help: 'Records sent but not yet confirmed stored by the control plane',
    registers,
    collect() {
      this.set(read().uncommitted);
    },
  });
}
