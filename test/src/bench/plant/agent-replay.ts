/**
 * One run-to-failure recording replayed through the agent's real data path, as it would arrive
 * live: F32ReplaySource (pace asap, original timestamps) -> EdgePipeline (the agent's default
 * cleaning config) -> the bearing model loaded by the agent's runtime registry from artifact bytes
 * and manifest -> AlertManager episodes. The RMS baseline runs in a second pipeline on the same
 * blocks, so it sees exactly the same cleaned windows.
 */
import { AlertManager } from '@millwright/edge-agent/alerts/alert-manager.js';
import type { AgentConfig } from '@millwright/edge-agent/config.js';
import type { SampleBlock } from '@millwright/edge-agent/domain/channel.js';
import type { ModelManifest, Reason } from '@millwright/edge-agent/domain/model.js';
import type { AlertEvent, PredictionEvent } from '@millwright/edge-agent/domain/prediction.js';
import type { LoadedModel } from '@millwright/edge-agent/inference/runtime.js';
import { runSelfTest } from '@millwright/edge-agent/inference/selftest.js';
import { systemClock } from '@millwright/edge-agent/ingest/clock.js';
import { F32ReplaySource } from '@millwright/edge-agent/ingest/replay-f32.js';
import type { BearingHealthArtifact } from '@millwright/edge-agent/pack/bearing/artifact.js';
import { EdgePipeline } from '@millwright/edge-agent/pipeline/edge-pipeline.js';
import { createAgentRuntimeRegistry } from '@millwright/edge-agent/runtimes.js';
import { BaselineTap } from './baseline-tap.js';

export interface PackagedModel {
  manifest: ModelManifest;
  artifactBytes: Uint8Array;
  /** The parsed artifact, for the baseline tap's indicator capture. */
  artifact: BearingHealthArtifact;
}

/** Everything the agent did on one run, in data time. */
export interface AgentTrace {
  /** Start time of each scored window. */
  tMs: number[];
  /** Data time at which each window's prediction was made (newest sample the agent had seen). */
  availableMs: number[];
  scores: number[];
  decisions: PredictionEvent['decision'][];
  /** Alert transitions of the pack (RAISED/RESOLVED) and of the RMS baseline. */
  packAlerts: AlertEvent[];
  baselineAlerts: AlertEvent[];
  /** Indicator rows and baseline RMS of each window, captured on the baseline's pipeline. */
  indicators: Float64Array[];
  baselineRms: number[];
  /** Reasons of the pack's first RAISED alert. */
  firstReasons: Reason[];
  snapshots: number;
  spikes: number;
}

export interface ReplayInput {
  sidecar: string;
  model: PackagedModel;
  /** Channel (sidecar name) whose RMS feeds the baseline. */
  baselineChannel: string;
  /** Commissioning of the RMS baseline (the pack's is in its artifact). */
  commissioningMs: number;
  config: AgentConfig;
}

/**
 * Replays one recording through the agent's pipeline and returns its trace.
 * @throws Error when the model fails to load or its self-test fails (the agent would refuse it).
 */
export async function replayThroughAgent(input: ReplayInput): Promise<AgentTrace> {
  const model = await createAgentRuntimeRegistry().loadModel(input.model.manifest, input.model.artifactBytes);
  const selfTest = await runSelfTest(model);
  if (!selfTest.passed) throw new Error(`bearing model self-test failed: ${selfTest.failures.join('; ')}`);
  const source = await F32ReplaySource.open(
    { id: 'plant', sidecar: input.sidecar, pace: 'asap', timestamps: 'original' },
    { clock: systemClock },
  );
  const trace = emptyTrace();
  const clock = { now: 0 };
  const tap = new BaselineTap(input.model.artifact, input.baselineChannel, input.commissioningMs);
  const packAlerts = alertManager(input.config, clock, trace.packAlerts);
  const baseAlerts = alertManager(input.config, clock, trace.baselineAlerts);
  trace.onPack = (p) => packAlerts.observe(p);
  const pack = pipeline(input.config, source.channels, model, clock, (p) => onPack(trace, clock.now, p));
  const base = pipeline(input.config, source.channels, tap, clock, (p) => baseAlerts.observe(p));
  await source.start((b: SampleBlock) => {
    clock.now = Math.max(clock.now, b.t0Ms + (b.length * 1000) / b.sampleRateHz);
    pack.accept(b);
    base.accept(b);
  });
  const stats = await source.done();
  if (stats.error) throw new Error(`replay of ${input.sidecar} failed: ${stats.error}`);
  pack.flush();
  base.flush();
  return finish(trace, tap, stats.blocks, pack);
}

type MutableTrace = AgentTrace & { onPack: (p: PredictionEvent) => void };

function emptyTrace(): MutableTrace {
  return {
    tMs: [],
    availableMs: [],
    scores: [],
    decisions: [],
    packAlerts: [],
    baselineAlerts: [],
    indicators: [],
    baselineRms: [],
    firstReasons: [],
    snapshots: 0,
    spikes: 0,
    onPack: () => {},
  };
}

function onPack(trace: MutableTrace, nowMs: number, p: PredictionEvent): void {
  trace.tMs.push(p.windowStartMs);
  trace.availableMs.push(nowMs);
  trace.scores.push(p.score);
  trace.decisions.push(p.decision);
  trace.onPack(p);
}

function finish(trace: MutableTrace, tap: BaselineTap, snapshots: number, pack: EdgePipeline): AgentTrace {
  const { onPack: _, ...rest } = trace;
  const raised = trace.packAlerts.find((a) => a.state === 'raised');
  const spikes = pack.takeQuality().reduce((s, q) => s + q.spikes, 0);
  return {
    ...rest,
    indicators: tap.rows,
    baselineRms: tap.rms,
    firstReasons: raised?.reasons ?? [],
    snapshots,
    spikes,
  };
}

function pipeline(
  config: AgentConfig,
  channels: F32ReplaySource['channels'],
  model: LoadedModel,
  clock: { now: number },
  onPrediction: (p: PredictionEvent) => void,
): EdgePipeline {
  return new EdgePipeline({
    agentId: 'plant-bench',
    bootId: 'replay',
    channels,
    cleaning: (c) => config.cleaning.channels[c.name] ?? config.cleaning.defaults,
    features: (c) => config.features.channels[c.name] ?? config.features.vibration,
    drift: config.cleaning.drift,
    models: { active: () => model, shadow: () => undefined },
    now: () => clock.now,
    // Reasons are copied: the pipeline may reuse its arrays after the call.
    onPrediction: (p) => onPrediction({ ...p, reasons: [...p.reasons] }),
    onModelError: (err) => {
      throw err;
    },
  });
}

function alertManager(config: AgentConfig, clock: { now: number }, into: AlertEvent[]): AlertManager {
  return new AlertManager({
    agentId: 'plant-bench',
    policy: { holdOffMs: config.alerts.holdOffS * 1000, resolveAfterNormal: config.alerts.resolveAfterNormal },
    // Live, the agent stamps alerts with its wall clock: in a replay that is the data time.
    now: () => clock.now,
    emit: (e) => into.push(e),
  });
}
