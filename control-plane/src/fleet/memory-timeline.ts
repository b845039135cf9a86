import { deriveHealth, type Health, type HealthThresholds } from '../domain/fleet.js';
import type { SweptAgent, TimelineEntry, Transition } from '../domain/timeline.js';
import type { TimelineStore } from './registry-ports.js';

/** In-memory TimelineStore for unit tests: agents are set directly, history is a list. */
export class MemoryTimelineStore implements TimelineStore {
  readonly agents = new Map<string, SweptAgent & { decommissioned?: boolean }>();
  entries: TimelineEntry[] = [];

  constructor(private readonly thresholds: HealthThresholds) {}

  heartbeat(id: string, atMs: number): void {
    const a = this.agents.get(id) ?? {
      id,
      lastHeartbeatMs: 0,
      lastHealth: 'offline',
      runningModelVersion: '',
      unsentRecords: 0,
    };
    this.agents.set(id, { ...a, lastHeartbeatMs: atMs });
  }

  async sweepCandidates(nowMs: number, limit: number): Promise<SweptAgent[]> {
    return [...this.agents.values()]
      .filter((a) => !a.decommissioned && a.lastHeartbeatMs > 0)
      .filter((a) => deriveHealth(a.lastHeartbeatMs, nowMs, this.thresholds) !== a.lastHealth)
      .slice(0, limit);
  }

  async recordTransitions(transitions: Transition[]): Promise<number> {
    let n = 0;
    for (const t of transitions) {
      const a = this.agents.get(t.agentId);
      if (!a || a.lastHealth !== t.from) continue;
      this.agents.set(t.agentId, { ...a, lastHealth: t.to as Health });
      this.entries.push(...t.entries);
      n += t.entries.length;
    }
    return n;
  }

  async appendBootEvents(entries: TimelineEntry[]): Promise<void> {
    for (const e of entries) {
      const before = this.entries.some(
        (h) => h.agentId === e.agentId && (h.event === 'announce' || h.event === 'restart'),
      );
      this.entries.push({ ...e, event: before ? 'restart' : 'announce' });
    }
  }

  async deleteHistoryBefore(ms: number): Promise<number> {
    const before = this.entries.length;
    this.entries = this.entries.filter((e) => e.atMs >= ms);
    return before - this.entries.length;
  }

  async history(agentId: string, sinceMs: number, limit: number): Promise<TimelineEntry[]> {
    return this.entries.filter((e) => e.agentId === agentId && e.atMs >= sinceMs).slice(-limit);
  }
}
