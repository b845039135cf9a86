/** Scoring of alarm timelines against run-to-failure ground truth (the definitions). */
import { AlertManager, type AlertPolicy, DEFAULT_ALERT_POLICY } from '../../alerts/alert-manager.js';
import type { Decision } from '../../domain/model.js';
import type { PredictionEvent } from '../../domain/prediction.js';

export interface RunTimeline {
  name: string;
  /** Window times (ms), ascending. */
  tMs: number[];
  /** Alarm active after each window (false during commissioning). */
  active: boolean[];
  commissioningEndMs: number;
  startMs: number;
  failureMs: number;
}

export interface RunOutcome {
  name: string;
  /** Start of the first alert episode after commissioning, ms. */
  firstAlertMs: number | null;
  /** Failure time minus first alert, minutes; 0 when never alerted. */
  leadMin: number;
  detected: boolean;
  /** Alert episodes starting after commissioning and before half of the run's life. */
  falseAlerts: number;
  episodes: number;
}

/** A run counts as detected when its first alert comes at least this long before failure. */
export const DETECTION_MIN_LEAD_MIN = 10;

export function episodeStarts(t: RunTimeline): number[] {
  const starts: number[] = [];
  let prev = false;
  t.active.forEach((a, i) => {
    if (a && !prev && t.tMs[i]! > t.commissioningEndMs) starts.push(t.tMs[i]!);
    prev = a;
  });
  return starts;
}

export function scoreRun(t: RunTimeline): RunOutcome {
  return scoreEpisodes({ ...t, starts: episodeStarts(t) });
}

/** A run's alert episodes (start times, ms) with its ground truth. */
export interface RunEpisodes {
  name: string;
  starts: readonly number[];
  commissioningEndMs: number;
  startMs: number;
  failureMs: number;
}

/** The definitions applied to episode starts; episodes during commissioning are ignored. */
export function scoreEpisodes(r: RunEpisodes): RunOutcome {
  const starts = r.starts.filter((s) => s > r.commissioningEndMs);
  const half = r.startMs + (r.failureMs - r.startMs) / 2;
  const first = starts[0] ?? null;
  const leadMin = first === null ? 0 : (r.failureMs - first) / 60_000;
  return {
    name: r.name,
    firstAlertMs: first,
    leadMin,
    detected: first !== null && leadMin >= DETECTION_MIN_LEAD_MIN,
    falseAlerts: starts.filter((s) => s < half).length,
    episodes: starts.length,
  };
}

/**
 * Start times of the alert episodes the agent's AlertManager raises for a sequence of window
 * decisions: `atMs[i]` is the data time at which decision i became available (the live clock).
 * Same de-duplication and hold-off as in the agent, so offline sweeps count what a plant would see.
 */
export function alertEpisodeStarts(
  decisions: readonly Decision[],
  atMs: readonly number[],
  policy: AlertPolicy = DEFAULT_ALERT_POLICY,
): number[] {
  let now = 0;
  const starts: number[] = [];
  const alerts = new AlertManager({
    agentId: 'offline',
    policy,
    now: () => now,
    emit: (e) => {
      if (e.state === 'raised') starts.push(e.atMs);
    },
  });
  decisions.forEach((decision, i) => {
    now = atMs[i]!;
    alerts.observe({ ...OFFLINE_PREDICTION, decision });
  });
  return starts;
}

const OFFLINE_PREDICTION: Omit<PredictionEvent, 'decision'> = {
  predictionId: 'offline',
  asset: 'asset',
  model: 'offline',
  modelVersion: 'offline',
  score: 0,
  reasons: [],
  latencyUs: 0,
  windowStartMs: 0,
  windowEndMs: 0,
  inputBadFraction: 0,
};

export interface Summary {
  detected: number;
  runs: number;
  medianLeadMin: number;
  falseAlerts: number;
}

export function summarize(outcomes: readonly RunOutcome[]): Summary {
  return {
    detected: outcomes.filter((o) => o.detected).length,
    runs: outcomes.length,
    medianLeadMin: median(outcomes.map((o) => o.leadMin)),
    falseAlerts: outcomes.reduce((s, o) => s + o.falseAlerts, 0),
  };
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * The reference detector: alarm while RMS exceeds the commissioning mean + 3 sigma for
 * `consecutive` windows in a row.
 */
export class RmsSigmaBaseline {
  private readonly commission: number[] = [];
  private limit = Number.NaN;
  private streak = 0;

  constructor(
    readonly commissioningMs: number,
    private readonly consecutive = 3,
  ) {}

  update(rms: number, tMs: number, startMs: number): boolean {
    if (tMs - startMs <= this.commissioningMs) {
      this.commission.push(rms);
      return false;
    }
    if (Number.isNaN(this.limit)) this.limit = meanPlus3Sigma(this.commission);
    this.streak = rms > this.limit ? this.streak + 1 : 0;
    return this.streak >= this.consecutive;
  }
}

function meanPlus3Sigma(xs: readonly number[]): number {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, xs.length - 1);
  return mean + 3 * Math.sqrt(variance);
}
