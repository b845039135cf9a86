import type { Logger } from 'pino';
import type { DriftReport, RetrainingPolicy } from './domain.js';
import type { RetrainingStore } from './ports.js';
import type { DatasetProjector, ProjectionStats } from './projector.js';
import { type CronSets, parseCronUtc } from './schedule.js';
import type { RetrainingService } from './service.js';
import { evaluateTriggers } from './triggers.js';

export interface RetrainingLoopDeps {
  leader: { isLeader(): boolean };
  projector: DatasetProjector;
  service: RetrainingService;
  store: RetrainingStore;
  now: () => number;
  log: Logger;
  intervalMs: number;
  onProjected?: (s: ProjectionStats) => void;
  onDrift?: (r: DriftReport) => void;
}

/**
 * The leader's singleton work, once per interval: project committed records into datasets, labels
 * and histograms, then evaluate every policy's triggers (drift, new labels, schedule) and raise
 * requests. Followers skip the tick; a new leader starts its schedule window at takeover.
 */
export class RetrainingLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private readonly lastEvaluated = new Map<string, number>();
  private wasLeader = false;

  constructor(private readonly deps: RetrainingLoopDeps) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running = this.running.then(() => this.tick());
    }, this.deps.intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass (exposed for tests); never throws. */
  async tick(): Promise<void> {
    const leader = this.deps.leader.isLeader();
    if (leader && !this.wasLeader) this.lastEvaluated.clear();
    this.wasLeader = leader;
    if (!leader) return;
    try {
      const stats = await this.deps.projector.runOnce();
      this.deps.onProjected?.(stats);
      if (stats.streams > 0) this.deps.log.info(stats, 'retraining.projected');
      for (const p of await this.deps.store.listPolicies()) await this.evaluate(p);
    } catch (err) {
      this.deps.log.warn({ err }, 'retraining.tick_failed');
    }
  }

  private async evaluate(policy: RetrainingPolicy): Promise<void> {
    const now = this.deps.now();
    const last = this.lastEvaluated.get(policy.model) ?? now;
    this.lastEvaluated.set(policy.model, now);
    const drift = await this.deps.service.getDrift({
      model: policy.model,
      version: '',
      siteId: '',
      fromMs: now - Math.max(1, policy.driftWindowH) * 3_600_000,
      toMs: now + 1,
    });
    for (const r of drift) this.deps.onDrift?.(r);
    const lastRequest = await this.deps.store.lastRequest(policy.model);
    const decision = evaluateTriggers({
      policy,
      cron: cronOf(policy),
      nowMs: now,
      lastRequest,
      lastEvaluatedMs: last,
      drift,
      newLabels: await this.deps.store.labelledSince(policy.model, lastRequest?.createdAtMs ?? 0),
    });
    if (!decision) return;
    await this.deps.service.requestRetraining({
      model: policy.model,
      baseVersion: decision.baseVersion ?? '',
      filter: undefined,
      reason: decision.reason,
      trigger: decision.trigger,
    });
  }
}

function cronOf(p: RetrainingPolicy): CronSets | undefined {
  if (!p.cron) return undefined;
  try {
    return parseCronUtc(p.cron);
  } catch {
    return undefined;
  }
}
