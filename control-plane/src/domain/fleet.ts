/** Fleet domain: agents, sites and how health follows from heartbeat age. */

export type Health = 'online' | 'stale' | 'offline' | 'decommissioned';

export interface HealthThresholds {
  /** Heartbeat older than this: stale. */
  staleAfterMs: number;
  /** Heartbeat older than this: offline. */
  offlineAfterMs: number;
}

/** Health from the age of the last heartbeat; a decommissioned agent stays decommissioned. */
export function deriveHealth(
  lastHeartbeatMs: number,
  nowMs: number,
  t: HealthThresholds,
  decommissioned = false,
): Health {
  if (decommissioned) return 'decommissioned';
  const age = nowMs - lastHeartbeatMs;
  if (age > t.offlineAfterMs) return 'offline';
  if (age > t.staleAfterMs) return 'stale';
  return 'online';
}

export interface BufferStatus {
  unsentRecords: number;
  uncommittedRecords: number;
  bytesOnDisk: number;
  capacityBytes: number;
  headSeq: number;
  committedSeq: number;
  lastSyncMs: number;
  droppedByClass: Record<string, number>;
}

export interface ResourceUsage {
  cpuPercent: number;
  rssBytes: number;
  diskFreeBytes: number;
}

/** What one heartbeat says about an agent (already validated). */
export interface HeartbeatInfo {
  agentId: string;
  siteId: string;
  lineId: string;
  labels: Record<string, string>;
  agentVersion: string;
  runningModelVersion: string;
  sentAtMs: number;
  heartbeatSeq: number;
  bootId: string;
  startedAtMs: number;
  announce: boolean;
  resources: ResourceUsage | undefined;
  buffer: BufferStatus | undefined;
  /** When the control plane received it (health uses receipt time: agent clocks drift). */
  receivedAtMs: number;
}

export interface ModelState {
  phase: string;
  version: string;
  reason: string;
  sinceMs: number;
}

export interface Agent {
  id: string;
  siteId: string;
  lineId: string;
  labels: Record<string, string>;
  agentVersion: string;
  runningModelVersion: string;
  desiredModelVersion: string;
  lastHeartbeatMs: number;
  health: Health;
  buffer: BufferStatus | undefined;
  resources: ResourceUsage | undefined;
  enrolledAtMs: number;
  startedAtMs: number;
  pinned: boolean;
  modelState: ModelState | undefined;
}

export interface AgentFilter {
  siteId?: string;
  lineId?: string;
  labels?: Record<string, string>;
  health?: Health;
}

export interface Page {
  limit: number;
  /** Agents after this id (keyset pagination). */
  afterId?: string;
}
