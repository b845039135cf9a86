import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentConfig } from '@millwright/edge-agent/config.js';
import { type BearingHealthArtifact, parseArtifact } from '@millwright/edge-agent/pack/bearing/artifact.js';
import { defaultArtifact, defaultIndicatorConfig } from '@millwright/edge-agent/pack/bearing/defaults.js';
import { type RunOutcome, scoreEpisodes } from '@millwright/edge-agent/pack/bearing/evaluate.js';
import { PRONOSTIA } from '@millwright/edge-agent/pack/bearing/geometry.js';
import { buildManifest, parseManifestFile } from '@millwright/edge-agent/pack/bearing/manifest.js';
import type { RunIndicators } from '@millwright/edge-agent/pack/bearing/train.js';
import { writeModel } from '@millwright/edge-agent/pack/bearing/train.js';
import { type AgentTrace, type PackagedModel, replayThroughAgent } from './agent-replay.js';
import type { RunMeta } from './runs.js';

/** The commissioning: the first 10 minutes of operation of each machine, in data time. */
export const COMMISSIONING_S = 600;

/** One run judged through the agent. */
export interface RunResult {
  run: RunMeta;
  artifact: BearingHealthArtifact;
  trace: AgentTrace;
  pack: RunOutcome;
  baseline: RunOutcome;
}

/**
 * The shipped pack for one machine: the pack defaults with the machine's channels, shaft speed and
 * sampling, one window per snapshot. `tune` applies global hyperparameters (never per run).
 */
export function packArtifact(run: RunMeta, tune: (a: BearingHealthArtifact) => BearingHealthArtifact = (a) => a) {
  const base = defaultArtifact({
    channels: run.channels,
    shaftHz: run.shaftHz,
    indicators: defaultIndicatorConfig(run.sampleRateHz, run.samplesPerSnapshot, PRONOSTIA),
  });
  const a = tune({ ...base, window: { length: run.samplesPerSnapshot, everyS: run.snapshotIntervalS } });
  return { ...a, commissioning: { ...a.commissioning, durationS: COMMISSIONING_S } };
}

/**
 * Writes the model with the pack's training tooling and reads it back as the agent receives it
 * (artifact bytes + manifest JSON): the replay never touches the in-memory artifact object.
 */
export function packageThroughFiles(artifact: BearingHealthArtifact, version: string): PackagedModel {
  const dir = mkdtempSync(join(tmpdir(), 'mw-plant-'));
  try {
    const manifest = buildManifest(artifact, { model: 'bearing-health', version, sequence: 1 });
    writeModel(dir, artifact, manifest);
    const artifactBytes = new Uint8Array(readFileSync(join(dir, 'artifact.json')));
    // The registry validates the manifest when it loads the model.
    const read = parseManifestFile(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    return { manifest: read, artifactBytes, artifact: parseArtifact(artifactBytes) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Replays one run through the agent with `artifact` and scores pack and baseline. */
export async function judgeRun(
  run: RunMeta,
  artifact: BearingHealthArtifact,
  config: AgentConfig,
  baselineChannel: string,
): Promise<RunResult> {
  const model = packageThroughFiles(artifact, '1.0.0');
  const trace = await replayThroughAgent({
    sidecar: run.sidecar,
    model,
    // Other recordings may name their channels differently: then the first one.
    baselineChannel: run.channels.includes(baselineChannel) ? baselineChannel : run.channels[0]!,
    commissioningMs: COMMISSIONING_S * 1000,
    config,
  });
  const commissioningEndMs = (trace.tMs[0] ?? run.startMs) + COMMISSIONING_S * 1000;
  const raised = (alerts: AgentTrace['packAlerts']) => alerts.filter((a) => a.state === 'raised').map((a) => a.atMs);
  const truth = { name: run.name, commissioningEndMs, startMs: run.startMs, failureMs: run.failureMs };
  return {
    run,
    artifact,
    trace,
    pack: scoreEpisodes({ ...truth, starts: raised(trace.packAlerts) }),
    baseline: scoreEpisodes({ ...truth, starts: raised(trace.baselineAlerts) }),
  };
}

/** The indicator rows the agent computed on a run, for offline re-scoring (sweeps, threshold choice). */
export function runIndicators(r: RunResult): RunIndicators {
  return {
    name: r.run.name,
    tMs: r.trace.tMs,
    availableMs: r.trace.availableMs,
    rows: r.trace.indicators,
    startMs: r.run.startMs,
    failureMs: r.run.failureMs,
  };
}
