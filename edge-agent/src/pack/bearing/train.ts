import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Decision, ModelManifest } from '../../domain/model.js';
import { type BearingHealthArtifact, serializeArtifact } from './artifact.js';
import { safeLog } from './baseline.js';
import {
  alertEpisodeStarts,
  median,
  type RunOutcome,
  type RunTimeline,
  type Summary,
  scoreEpisodes,
  summarize,
} from './evaluate.js';
import { buildManifest, type ManifestInput, manifestFileText } from './manifest.js';
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
  /**
   * Data time at which each window's prediction became available (the live clock when the agent
   * scored it; later than `tMs` by the cleaning look-ahead). Defaults to `tMs`.
   */
  availableMs?: number[];
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

export type RunReplay = RunTimeline & { scores: number[]; decisions: Decision[]; episodeStarts: number[] };

/**
 * Replays one run's indicators through a fresh model, as live: commissioning first, then the
 * model's k-of-n alarm, then the agent's alert episodes (AlertManager, default policy).
 */
export function replayRun(artifact: BearingHealthArtifact, run: RunIndicators): RunReplay {
  const model = new BearingHealthModel(manifestFor(artifact), artifact);
  const decisions: Decision[] = [];
  const scores: number[] = [];
  run.rows.forEach((row, i) => {
    const r = model.scoreAt(row, run.tMs[i]!, 0);
    decisions.push(r.decision);
    scores.push(r.score);
  });
  return {
    name: run.name,
    tMs: run.tMs,
    active: decisions.map((d) => d === 'alert'),
    decisions,
    scores,
    episodeStarts: alertEpisodeStarts(decisions, run.availableMs ?? run.tMs),
    commissioningEndMs: run.tMs[0]! + artifact.commissioning.durationS * 1000,
    startMs: run.startMs,
    failureMs: run.failureMs,
  };
}

/** Outcome of one replayed run under the definitions, counting alert episodes. */
export function scoreReplay(r: RunReplay): RunOutcome {
  return scoreEpisodes({ ...r, starts: r.episodeStarts });
}

export function evaluateArtifact(artifact: BearingHealthArtifact, runs: readonly RunIndicators[]) {
  const outcomes: RunOutcome[] = runs.map((r) => scoreReplay(replayRun(artifact, r)));
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
  /** Thresholds that tie with the best on detected runs and false alerts, ascending. */
  plateau: number[];
}

/**
 * How to pick among thresholds that detect as many runs with as few false alerts:
 * `longest-lead` takes the one with the longest median lead (the lowest, at the edge of the
 * false-alert cap); `plateau-middle` takes the middle of them, the choice least sensitive to one
 * more or one fewer run.
 */
export type ThresholdRule = 'longest-lead' | 'plateau-middle';

/**
 * Chooses the one global alert threshold on recorded runs (never per run). `maxFalseAlerts` caps
 * false alerts over all runs; among admissible thresholds the best by `better` wins, or with
 * `plateau-middle` the middle of the thresholds as good on detections and false alerts.
 */
export function chooseThreshold(
  artifact: BearingHealthArtifact,
  runs: readonly RunIndicators[],
  candidates: readonly number[],
  maxFalseAlerts = Number.POSITIVE_INFINITY,
  rule: ThresholdRule = 'longest-lead',
): ThresholdChoice {
  const tried = candidates.map((threshold) => ({
    threshold,
    summary: evaluateArtifact(withThreshold(artifact, threshold), runs).summary,
  }));
  const admissible = tried.filter((t) => t.summary.falseAlerts <= maxFalseAlerts);
  const pool = admissible.length > 0 ? admissible : tried;
  const best = pool.reduce((a, b) => (better(b.summary, a.summary) ? b : a));
  const same = (s: Summary) => s.detected === best.summary.detected && s.falseAlerts === best.summary.falseAlerts;
  const plateau = pool.filter((t) => same(t.summary)).sort((a, b) => a.threshold - b.threshold);
  const pick = rule === 'plateau-middle' ? plateau[(plateau.length - 1) >> 1]! : best;
  return { ...pick, tried, plateau: plateau.map((t) => t.threshold) };
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
  rule: ThresholdRule = 'longest-lead',
): { outcomes: RunOutcome[]; thresholds: number[] } {
  const outcomes: RunOutcome[] = [];
  const thresholds: number[] = [];
  runs.forEach((held, i) => {
    const rest = runs.filter((_, j) => j !== i);
    const choice = chooseThreshold(artifact, rest, candidates, maxFalseAlertsPerRun * rest.length, rule);
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
  const choice = chooseThreshold(withPrior, runs, candidates, maxFalseAlerts, 'plateau-middle');
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

/** Artifact bytes and manifest (with self-test vectors) of a model, as the registry receives them. */
export function packageModel(
  artifact: BearingHealthArtifact,
  manifest: ManifestInput,
): { artifactBytes: Uint8Array; manifest: ModelManifest } {
  return { artifactBytes: serializeArtifact(artifact), manifest: buildManifest(artifact, manifest) };
}

/**
 * Writes `artifact.json` and `manifest.json` into `dir`, ready for `mwctl models push` (the manifest
 * in the registry's proto3 JSON; `parseManifestFile` reads it back into the agent's form).
 */
export function writeModel(dir: string, artifact: BearingHealthArtifact, manifest: ModelManifest): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'artifact.json'), serializeArtifact(artifact));
  writeFileSync(join(dir, 'manifest.json'), manifestFileText(manifest));
}
