import type { AlertEvent, PredictionEvent } from '../domain/prediction.js';

export interface AlertPolicy {
  /** After an alert is raised for an asset, no new episode starts for this long. */
  holdOffMs: number;
  /** An episode resolves after this many consecutive normal predictions. */
  resolveAfterNormal: number;
}

export const DEFAULT_ALERT_POLICY: AlertPolicy = { holdOffMs: 10 * 60_000, resolveAfterNormal: 5 };

interface Episode {
  alertId: string;
  raisedAtMs: number;
  normalsInARow: number;
  last: PredictionEvent;
}

/**
 * Turns per-window decisions into alert episodes so one fault does not flood the line: one RAISED
 * when an asset first alerts, one RESOLVED after it has been normal for a while, and a hold-off
 * before the same asset can raise again. Works offline; the sinks deliver locally.
 */
export class AlertManager {
  private readonly open = new Map<string, Episode>();
  private readonly lastResolvedAt = new Map<string, number>();
  private counter = 0;
  private policy: AlertPolicy;

  constructor(
    private readonly deps: { agentId: string; policy: AlertPolicy; now: () => number; emit: (e: AlertEvent) => void },
  ) {
    this.policy = deps.policy;
  }

  /** A new policy (desired-state config overlay); open episodes continue under it. */
  setPolicy(policy: AlertPolicy): void {
    this.policy = policy;
  }

  observe(p: PredictionEvent): void {
    const ep = this.open.get(p.asset);
    if (ep) {
      this.continueEpisode(ep, p);
      return;
    }
    if (p.decision !== 'alert') return;
    const now = this.deps.now();
    const resolvedAt = this.lastResolvedAt.get(p.asset);
    if (resolvedAt !== undefined && now - resolvedAt < this.policy.holdOffMs) return;
    const alertId = `${this.deps.agentId}:${p.asset}:${now}:${++this.counter}`;
    this.open.set(p.asset, { alertId, raisedAtMs: now, normalsInARow: 0, last: p });
    this.deps.emit(this.event(alertId, 'raised', p, now));
  }

  /** Open episodes by asset (for the local API). */
  openAlerts(): { asset: string; alertId: string; sinceMs: number }[] {
    return [...this.open.entries()].map(([asset, e]) => ({ asset, alertId: e.alertId, sinceMs: e.raisedAtMs }));
  }

  private continueEpisode(ep: Episode, p: PredictionEvent): void {
    if (p.decision === 'alert') {
      ep.normalsInARow = 0;
      ep.last = p;
      return;
    }
    if (p.decision !== 'normal') return; // unknown (bad input) neither confirms nor clears
    ep.normalsInARow++;
    if (ep.normalsInARow < this.policy.resolveAfterNormal) return;
    const now = this.deps.now();
    this.open.delete(p.asset);
    this.lastResolvedAt.set(p.asset, now);
    this.deps.emit(this.event(ep.alertId, 'resolved', p, now));
  }

  private event(alertId: string, state: AlertEvent['state'], p: PredictionEvent, atMs: number): AlertEvent {
    const why = p.reasons
      .slice(0, 3)
      .map((r) => r.text || `${r.feature}=${r.value.toPrecision(3)}${r.unit ? ` ${r.unit}` : ''}`)
      .join(', ');
    const message =
      state === 'raised'
        ? `${p.asset}: alert from ${p.model} ${p.modelVersion} (score ${p.score.toFixed(3)})${why ? `: ${why}` : ''}`
        : `${p.asset}: back to normal`;
    return {
      alertId,
      state,
      asset: p.asset,
      modelVersion: p.modelVersion,
      score: p.score,
      reasons: p.reasons,
      message,
      predictionId: p.predictionId,
      atMs,
    };
  }
}
