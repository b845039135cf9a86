import type { Logger } from 'pino';
import type { HealthThresholds } from '../domain/fleet.js';
import { healthTransitions } from '../domain/timeline.js';
import type { Clock } from './ports.js';
import type { TimelineStore } from './registry-ports.js';

/** Whether this replica currently holds a leadership lock (adapters/postgres/leader.ts). */
export interface Leadership {
  isLeader(): boolean;
}

export interface HealthSweeperDeps {
  store: TimelineStore;
  leader: Leadership;
  clock: Clock;
  thresholds: HealthThresholds;
  /** History older than this is deleted. */
  retentionMs: number;
  intervalMs: number;
  log: Logger;
  /** Agents examined per sweep; the rest wait for the next one. @default 5000 */
  batch?: number;
  /** How often history retention runs. @default 1 hour */
  retentionEveryMs?: number;
  onSweep?: (result: SweepResult) => void;
}

export interface SweepResult {
  transitions: number;
  deleted: number;
}

/**
 * Records health transitions (online/stale/offline) into the agent timeline and enforces its
 * retention. Runs in every replica; only the leader acts, so each transition is written once.
 */
export class HealthSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private lastRetentionMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly deps: HealthSweeperDeps) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running = this.running.then(() => this.tickLogged());
    }, this.deps.intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One sweep; undefined when this replica is not the leader. */
  async tick(): Promise<SweepResult | undefined> {
    if (!this.deps.leader.isLeader()) return undefined;
    const now = this.deps.clock.now();
    const candidates = await this.deps.store.sweepCandidates(now, this.deps.batch ?? 5000);
    const transitions = healthTransitions(candidates, now, this.deps.thresholds);
    const written = transitions.length ? await this.deps.store.recordTransitions(transitions) : 0;
    const result = { transitions: written, deleted: await this.retention(now) };
    this.deps.onSweep?.(result);
    return result;
  }

  private async retention(now: number): Promise<number> {
    if (now - this.lastRetentionMs < (this.deps.retentionEveryMs ?? 3_600_000)) return 0;
    this.lastRetentionMs = now;
    return this.deps.store.deleteHistoryBefore(now - this.deps.retentionMs);
  }

  private async tickLogged(): Promise<void> {
    try {
      const r = await this.tick();
      if (r && (r.transitions > 0 || r.deleted > 0)) this.deps.log.info(r, 'fleet.sweep');
    } catch (err) {
      this.deps.log.warn({ err }, 'fleet.sweep.failed');
    }
  }
}
