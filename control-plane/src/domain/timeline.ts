/** Agent health timeline: which transitions a sweep records, and the events heartbeats add. */
import { deriveHealth, type Health, type HealthThresholds } from './fleet.js';

/** Timeline event codes (AgentHistoryEntry.event). */
export const TimelineEvent = {
  online: 'health.online',
  stale: 'health.stale',
  offline: 'health.offline',
  announce: 'announce',
  restart: 'restart',
  enrolled: 'enrolled',
  decommissioned: 'decommissioned',
  pinned: 'pinned',
  unpinned: 'unpinned',
} as const;
export type TimelineEvent = (typeof TimelineEvent)[keyof typeof TimelineEvent];

export interface TimelineEntry {
  agentId: string;
  atMs: number;
  health: Health;
  runningModelVersion: string;
  unsentRecords: number;
  event: TimelineEvent;
}

/** What a sweep needs to know about one agent. */
export interface SweptAgent {
  id: string;
  /** 0 when the agent never sent a heartbeat. */
  lastHeartbeatMs: number;
  /** Health last written to the timeline. */
  lastHealth: Health;
  runningModelVersion: string;
  unsentRecords: number;
}

export interface Transition {
  agentId: string;
  from: Health;
  to: Health;
  /** One entry per state passed through, oldest first (online -> offline between sweeps adds stale too). */
  entries: TimelineEntry[];
}

type Live = 'online' | 'stale' | 'offline';
const LIVE_ORDER: readonly Live[] = ['online', 'stale', 'offline'];

/** Transitions since the last recorded health, timed from the heartbeat age rather than the sweep time. */
export function healthTransitions(agents: SweptAgent[], nowMs: number, t: HealthThresholds): Transition[] {
  const out: Transition[] = [];
  for (const a of agents) {
    if (a.lastHeartbeatMs <= 0 || a.lastHealth === 'decommissioned') continue;
    const to = deriveHealth(a.lastHeartbeatMs, nowMs, t) as Live;
    if (to === a.lastHealth) continue;
    const entries = statesBetween(a.lastHealth, to).map((h) => entryFor(a, h, t));
    out.push({ agentId: a.id, from: a.lastHealth, to, entries });
  }
  return out;
}

/** States entered going from `from` to `to`; a recovery passes through online first. */
function statesBetween(from: Live, to: Live): Live[] {
  const start = LIVE_ORDER.indexOf(from);
  const end = LIVE_ORDER.indexOf(to);
  return end > start ? LIVE_ORDER.slice(start + 1, end + 1) : LIVE_ORDER.slice(0, end + 1);
}

function entryFor(a: SweptAgent, h: Live, t: HealthThresholds): TimelineEntry {
  const offset = h === 'online' ? 0 : h === 'stale' ? t.staleAfterMs : t.offlineAfterMs;
  return {
    agentId: a.id,
    atMs: a.lastHeartbeatMs + offset,
    health: h,
    runningModelVersion: a.runningModelVersion,
    unsentRecords: a.unsentRecords,
    event: TimelineEvent[h],
  };
}
