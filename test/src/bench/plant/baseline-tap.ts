import type { ModelManifest, ScoreResult } from '@millwright/edge-agent/domain/model.js';
import type { LoadedModel, WindowInputs } from '@millwright/edge-agent/inference/runtime.js';
import type { BearingHealthArtifact } from '@millwright/edge-agent/pack/bearing/artifact.js';
import { RmsSigmaBaseline } from '@millwright/edge-agent/pack/bearing/evaluate.js';
import { IndicatorExtractor } from '@millwright/edge-agent/pack/bearing/indicators.js';

/**
 * The reference detector as a raw-window model, so it runs in the agent's pipeline on the
 * same cleaned windows as the pack: RMS of one channel above the commissioning mean + 3 sigma for
 * 3 consecutive windows. It also records every window's pack indicators (same extractor, same
 * windows) so threshold sweeps and leave-one-run-out can re-score the run without replaying it.
 */
export class BaselineTap implements LoadedModel {
  readonly manifest: ModelManifest;
  readonly windowInputs: WindowInputs;
  readonly rows: Float64Array[] = [];
  readonly rms: number[] = [];
  private readonly extractor: IndicatorExtractor;
  private readonly detector: RmsSigmaBaseline;
  private readonly rmsAt: number;
  private readonly artifact: BearingHealthArtifact;
  private startMs = Number.NaN;

  constructor(artifact: BearingHealthArtifact, channel: string, commissioningMs: number) {
    this.artifact = artifact;
    const index = artifact.channels.indexOf(channel);
    if (index < 0) throw new Error(`baseline channel ${channel} is not one of ${artifact.channels.join(', ')}`);
    this.extractor = new IndicatorExtractor(artifact.indicators);
    // RMS is the first indicator of each channel.
    this.rmsAt = index * this.extractor.count;
    this.detector = new RmsSigmaBaseline(commissioningMs);
    this.windowInputs = {
      channels: artifact.channels,
      length: artifact.window?.length ?? 2560,
      everyMs: (artifact.window?.everyS ?? 10) * 1000,
    };
    this.manifest = {
      model: 'rms_3sigma',
      version: 'baseline',
      runtime: 'linear',
      inputs: [],
      output: { meaning: 'RMS', alertThreshold: Number.NaN, uncertainLow: Number.NaN, uncertainHigh: Number.NaN },
      selfTest: [],
      trainingMetrics: {},
      lineage: {},
      reference: [],
      sequence: 0,
    };
  }

  scoreWindows(windows: readonly Float64Array[], tMs: number): ScoreResult {
    const per = this.extractor.count;
    const row = new Float64Array(per * windows.length);
    windows.forEach((w, i) => {
      this.extractor.compute(w, 0, 1, w.length, this.artifact.shaftHz, row, i * per);
    });
    this.rows.push(row);
    const rms = row[this.rmsAt]!;
    this.rms.push(rms);
    if (Number.isNaN(this.startMs)) this.startMs = tMs;
    const alarm = this.detector.update(rms, tMs, this.startMs);
    const commissioning = tMs - this.startMs <= this.detector.commissioningMs;
    return { score: rms, decision: commissioning ? 'unknown' : alarm ? 'alert' : 'normal', reasons: [] };
  }

  score(): ScoreResult {
    throw new Error('the RMS baseline scores raw windows only');
  }

  dispose(): void {}
}
