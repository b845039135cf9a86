/**
 * `bearing_health` models: retrained with the pack's own training tooling (edge-agent
 * pack/bearing/train.ts) on the raw windows the agents captured, like `train-cli` on recorded runs.
 */
import {
  type BearingHealthArtifact,
  parseArtifact,
  serializeArtifact,
} from '@millwright/edge-agent/pack/bearing/artifact.js';
import { buildManifest } from '@millwright/edge-agent/pack/bearing/manifest.js';
import { BearingHealthModel } from '@millwright/edge-agent/pack/bearing/model.js';
import {
  chooseThreshold,
  computeRunIndicators,
  fitPrior,
  manifestFor,
  type RunIndicators,
  type ThresholdChoice,
  withThreshold,
} from '@millwright/edge-agent/pack/bearing/train.js';
import { readWindows, runsOf, type WindowSpec } from './bearing-windows.js';
import type { Fitted, TrainingJob } from './ports.js';
import { dedupe } from './snapshot.js';

export interface BearingOptions {
  /** Candidate alert thresholds (the base's is always tried too). */
  thresholds: number[];
  /** False alerts allowed per failed run when choosing the threshold. */
  maxFalseAlertsPerRun: number;
}

/** The model's window inputs, as the agent collects them for this artifact. */
export function windowSpecOf(a: BearingHealthArtifact): WindowSpec {
  const w = new BearingHealthModel(manifestFor(a), a).windowInputs;
  return { channels: w.channels, length: w.length, sampleRateHz: a.indicators.sampleRateHz, shaftHz: a.shaftHz };
}

/**
 * Refits the base artifact: the fleet prior from the first baseline windows (the commissioning) of
 * every machine (`priorRuns`: random captures and windows labelled healthy only);
 * the alert threshold, when some runs end in a confirmed failure, on those runs by the pack's
 * run-to-failure definitions (one global threshold, the middle of the best plateau); otherwise the
 * base's threshold stays. Runs that did not fail have no failure time to score leads against.
 */
export function fitBearing(
  base: BearingHealthArtifact,
  runs: readonly RunIndicators[],
  failed: readonly boolean[],
  opts: BearingOptions,
  priorRuns: readonly RunIndicators[] = runs,
): { artifact: BearingHealthArtifact; choice?: ThresholdChoice } {
  const prior = fitPrior(base, priorRuns);
  if (![...prior.median, ...prior.scale].every(Number.isFinite)) {
    const c = base.commissioning;
    throw new Error(
      `no machine in the snapshot has enough baseline windows (random captures or labelled normal) to commission ` +
        `(at least ${c.minWindows} over more than ${c.durationS} s): capture with randomRate > 0`,
    );
  }
  const withPrior = { ...base, prior };
  const failing = runs.filter((_, i) => failed[i]);
  if (failing.length === 0) return { artifact: withPrior };
  const candidates = [...new Set([...opts.thresholds, base.scoring.threshold])].sort((a, b) => a - b);
  const maxFalseAlerts = opts.maxFalseAlertsPerRun * failing.length;
  const choice = chooseThreshold(withPrior, failing, candidates, maxFalseAlerts, 'plateau-middle');
  return { artifact: withThreshold(withPrior, choice.threshold), choice };
}

/** Base artifact -> captured raw windows -> runs -> indicators -> refit -> manifest with self-test vectors. */
export async function trainBearing(job: TrainingJob, opts: BearingOptions): Promise<Fitted> {
  const { ports, req } = job;
  const base = parseArtifact(await ports.baseArtifact(req.model, req.baseVersion));
  const spec = windowSpecOf(base);
  const rows = dedupe(job.rows);
  await ports.progress(req.id, 0.2, `reading the raw windows of ${rows.length} rows`);
  const { windows, skipped } = await readWindows(rows, spec, (key) => ports.readObject(key));
  if (windows.length === 0) {
    throw new Error(
      `snapshot ${req.snapshotId} has no raw windows of [${spec.channels.join(', ')}] at ${spec.sampleRateHz} Hz ` +
        `with ${spec.length} samples (${rows.length} rows, skipped ${JSON.stringify(skipped)}; capture with includeRaw)`,
    );
  }
  const runs = runsOf(windows, spec);
  await ports.progress(req.id, 0.4, `indicators of ${windows.length} windows in ${runs.length} runs`);
  const indicators = runs.map((r) => computeRunIndicators(r.run, base));
  // The prior only from windows that are no evidence of trouble: alert/uncertain captures lean abnormal.
  const priorRuns = runsOf(
    windows.filter((w) => w.baseline),
    spec,
  ).map((r) => computeRunIndicators(r.run, base));
  const fit = fitBearing(
    base,
    indicators,
    runs.map((r) => r.failed),
    opts,
    priorRuns,
  );
  const s = fit.choice?.summary;
  const trainingMetrics: Record<string, number> = {
    windows: windows.length,
    runs: runs.length,
    failed_runs: runs.filter((r) => r.failed).length,
    skipped_rows: Object.values(skipped).reduce((a, b) => a + b, 0),
    snapshot_rows: job.snapshot.totalRows,
    threshold: fit.artifact.scoring.threshold,
    ...(s ? { detected_runs: s.detected, median_lead_min: s.medianLeadMin, false_alerts: s.falseAlerts } : {}),
  };
  const m = buildManifest(fit.artifact, { model: req.model, version: job.version, sequence: 0, trainingMetrics });
  return {
    artifact: serializeArtifact(fit.artifact),
    manifest: {
      runtime: job.base.runtime,
      inputs: m.inputs,
      output: { onnxOutput: '', ...m.output },
      selfTest: m.selfTest,
      trainingMetrics: m.trainingMetrics,
      // Bearing models score raw windows: agents send no input histograms to compare a reference with.
      reference: [],
    },
  };
}
