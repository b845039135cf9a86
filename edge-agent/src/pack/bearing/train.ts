import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelManifest } from '../../domain/model.js';
import { type BearingHealthArtifact, serializeArtifact } from './artifact.js';
import { safeLog } from './baseline.js';
import { median, type RunOutcome, type RunTimeline, type Summary, scoreRun, summarize } from './evaluate.js';
import { buildManifest, type ManifestInput } from './manifest.js';
import { BearingHealthModel } from './model.js';
import { BearingPipeline } from './pipeline.js';
import { type RecordedRun, replaySnapshots } from './replay.js';

/** Indicators of every window of a run, computed once so hyperparameter sweeps only re-run the model. */
export interface RunIndicators {
  name: string;
  tMs: number[];
  rows: Float64Array[];
  startMs: number;
  failureMs: number;
}

export function computeRunIndicators(run: RecordedRun, artifact: BearingHealthArtifact): RunIndicators {
  const pipeline = new BearingPipeline({ model: new BearingHealthModel(manifestFor(artifact), artifact) });
  const rows: Float64Array[] = [];
  replaySnapshots(run, (blocks) => {
    pipeline.onWindow(blocks, run.shaftHz);
    rows.push(Float64Array.from(pipeline.indicators));
  });
  return { name: run.name, tMs: run.tMs, rows, startMs: run.startMs, failureMs: run.failureMs };
}

/** A throwaway manifest (no self-test vectors) for replaying an artifact during training. */
export function manifestFor(artifact: BearingHealthArtifact): ModelManifest {
  return buildManifest(artifact, { model: 'bearing-health-training', version: '0', sequence: 0 });
}

/** Replays one run through a fresh model, exactly as live: commissioning first, then alarms. */
export function replayRun(artifact: BearingHealthArtifact, run: RunIndicators): RunTimeline & { scores: number[] } {
  const model = new BearingHealthModel(manifestFor(artifact), artifact);
  const active: boolean[] = [];
  const scores: number[] = [];
  run.rows.forEach((row, i) => {
    const r = model.scoreAt(row, run.tMs[i]!, 0);
    active.push(r.decision === 'alert');
    scores.push(r.score);
  });
  return {
    name: run.name,
    tMs: run.tMs,
    active,
    scores,
    commissioningEndMs: run.tMs[0]! + artifact.commissioning.durationS * 1000,
    startMs: run.startMs,
    failureMs: run.failureMs,
  };
}

export function evaluateArtifact(artifact: BearingHealthArtifact, runs: readonly RunIndicators[]) {
  const outcomes: RunOutcome[] = runs.map((r) => scoreRun(replayRun(artifact, r)));
  return { outcomes, summary: summarize(outcomes) };
}

/**
 * Fleet prior from the commissioning windows of recorded runs: median of per-run medians and scales.
 * Only used while a new machine commissions and for self-test vectors.
 */
export function fitPrior(
  artifact: BearingHealthArtifact,
  runs: readonly RunIndicators[],
): BearingHealthArtifact['prior'] {
  const perRun = runs.map((r) => {
    const model = new BearingHealthModel(manifestFor(artifact), artifact);
    r.rows.forEach((row, i) => {
      model.scoreAt(row, r.tMs[i]!, 0);
    });
    return model.machineBaseline;
  });
  const fitted = perRun.filter((b) => b !== null);
  const dims = artifact.prior.median.length;
  const col = (pick: (b: (typeof fitted)[number]) => number[], d: number) => median(fitted.map((b) => pick(b)[d]!));
  return {
    median: Array.from({ length: dims }, (_, d) => col((b) => b.median, d)),
    scale: Array.from({ length: dims }, (_, d) =>
      Math.max(
        artifact.scoring.minLogScale,
        col((b) => b.scale, d),
      ),
    ),
  };
}

/** Orders candidates: most detected runs, then fewest false alerts, then longest median lead. */
function better(a: Summary, b: Summary): boolean {
  if (a.detected !== b.detected) return a.detected > b.detected;
  if (a.falseAlerts !== b.falseAlerts) return a.falseAlerts < b.falseAlerts;
  return a.medianLeadMin > b.medianLeadMin;
}

export interface ThresholdChoice {
  threshold: number;
  summary: Summary;
  /** Every candidate tried, for the report. */
  tried: { threshold: number; summary: Summary }[];
}

/**
 * Chooses the one global alert threshold on recorded runs (never per run). `maxFalseAlerts` caps
 * false alerts over all runs; among admissible thresholds the best by `better` wins.
 */
export function chooseThreshold(
  artifact: BearingHealthArtifact,
  runs: readonly RunIndicators[],
  candidates: readonly number[],
  maxFalseAlerts = Number.POSITIVE_INFINITY,
): ThresholdChoice {
  const tried = candidates.map((threshold) => ({
    threshold,
    summary: evaluateArtifact(withThreshold(artifact, threshold), runs).summary,
  }));
  const admissible = tried.filter((t) => t.summary.falseAlerts <= maxFalseAlerts);
  const pool = admissible.length > 0 ? admissible : tried;
  const best = pool.reduce((a, b) => (better(b.summary, a.summary) ? b : a));
  return { ...best, tried };
}

export function withThreshold(a: BearingHealthArtifact, threshold: number): BearingHealthArtifact {
  return { ...a, scoring: { ...a.scoring, threshold } };
}

/**
 * Leave-one-run-out: chooses the threshold on all runs but one and scores the held-out run with it.
 * The honest estimate of how the tuned pack does on a machine it was not tuned on.
 */
export function leaveOneRunOut(
  artifact: BearingHealthArtifact,
  runs: readonly RunIndicators[],
  candidates: readonly number[],
  maxFalseAlertsPerRun: number,
): { outcomes: RunOutcome[]; thresholds: number[] } {
  const outcomes: RunOutcome[] = [];
  const thresholds: number[] = [];
  runs.forEach((held, i) => {
    const rest = runs.filter((_, j) => j !== i);
    const choice = chooseThreshold(artifact, rest, candidates, maxFalseAlertsPerRun * rest.length);
    thresholds.push(choice.threshold);
    outcomes.push(...evaluateArtifact(withThreshold(artifact, choice.threshold), [held]).outcomes);
  });
  return { outcomes, thresholds };
}

/** Log-ratio helper for reports: how far a value sits above a log-domain median. */
export function ratioToBaseline(value: number, logMedian: number): number {
  return Math.exp(safeLog(value) - logMedian);
}

export interface TrainedModel {
  artifact: BearingHealthArtifact;
  manifest: ModelManifest;
  choice: ThresholdChoice;
}

/** Fits the prior, chooses the threshold, builds the manifest (with self-test vectors). */
export function trainBearingHealth(
  base: BearingHealthArtifact,
  runs: readonly RunIndicators[],
  candidates: readonly number[],
  maxFalseAlerts: number,
  manifest: ManifestInput,
): TrainedModel {
  const withPrior = { ...base, prior: fitPrior(base, runs) };
  const choice = chooseThreshold(withPrior, runs, candidates, maxFalseAlerts);
  const artifact = withThreshold(withPrior, choice.threshold);
  const s = choice.summary;
  const trainingMetrics = {
    detected_runs: s.detected,
    runs: s.runs,
    median_lead_min: s.medianLeadMin,
    false_alerts: s.falseAlerts,
  };
  return { artifact, manifest: buildManifest(artifact, { ...manifest, trainingMetrics }), choice };
}

/** Writes `artifact.json` and `manifest.json` into `dir`. */
export function writeModel(dir: string, artifact: BearingHealthArtifact, manifest: ModelManifest): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'artifact.json'), serializeArtifact(artifact));
  writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}
