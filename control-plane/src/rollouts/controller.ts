import type { RolloutDeps } from './deps.js';
import { publish } from './desired.js';
import { reconcileRevert, reconcileRunning } from './reconcile.js';

/** Whether this replica holds the rollout controller's lock (adapters/postgres/leader.ts). */
export interface Leadership {
  isLeader(): boolean;
}

const REVERT_LOOKBACK_MS = 24 * 3600 * 1000;

/**
 * The rollout controller: runs in every replica, acts only on the leader. Every tick reconciles each
 * active rollout from what Postgres holds (members, stage, start time), so a new leader continues
 * where a killed one stopped; one rollout's failure is logged and never stops the others.
 */
export class RolloutController {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private busy = false;

  constructor(private readonly deps: RolloutDeps & { leader: Leadership }) {}

  start(): void {
    this.timer = setInterval(() => this.kick(), this.deps.options.tickMs);
  }

  /** Runs a tick now unless one is in progress (after a manual action, to act without waiting). */
  kick(): void {
    if (this.busy) return;
    this.busy = true;
    this.running = this.tick()
      .then(() => undefined)
      .catch((err: unknown) => this.deps.log.error({ err }, 'rollout.tick.failed'))
      .finally(() => {
        this.busy = false;
      });
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One reconcile pass; false when this replica is not the leader. */
  async tick(): Promise<boolean> {
    if (!this.deps.leader.isLeader()) return false;
    const started = this.deps.clock.now();
    await this.repairKv();
    const running = await this.deps.store.list({ statuses: ['running'], limit: 1000 });
    for (const r of running) await this.guard(r.id, () => reconcileRunning(this.deps, r));
    const since = started - REVERT_LOOKBACK_MS;
    const reverted = await this.deps.store.list({ statuses: ['rolled_back'], limit: 100 });
    for (const r of reverted.filter((x) => x.updatedAtMs >= since))
      await this.guard(r.id, () => reconcileRevert(this.deps, r));
    this.deps.log.debug({ running: running.length, durationMs: this.deps.clock.now() - started }, 'rollout.tick');
    return true;
  }

  private async guard(rolloutId: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.deps.log.error({ err, rolloutId }, 'rollout.reconcile.failed');
    }
  }

  private async repairKv(): Promise<void> {
    const pending = await this.deps.desired.pendingKv(this.deps.clock.now() - this.deps.options.kvRepairAfterMs, 5000);
    if (pending.length === 0) return;
    this.deps.log.warn({ agents: pending.length }, 'rollout.desired.kv_repair');
    await publish(this.deps, pending);
  }
}
