import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { ChannelSpec, SampleBlock } from '../domain/channel.js';
import type { ModelManifest } from '../domain/model.js';
import type { PredictionEvent } from '../domain/prediction.js';
import { type CapturedWindow, Capturer } from './capturer.js';
import { HistogramAccumulator, type HistogramBatch } from './histograms.js';
import { type CaptureConfig, type CapturePolicy, effectivePolicy, policyFromConfig } from './policy.js';
import { RawRing } from './raw-ring.js';

export interface CaptureStageDeps {
  /** The agent's own `capture.*` (file/env): the policy at start, and the caps of every later one. */
  config: Readonly<CaptureConfig>;
  channels: readonly ChannelSpec[];
  now: () => number;
  random: () => number;
  /** Captured windows, bound for the buffer as CAPTURE records. */
  emitSample: (w: CapturedWindow) => void;
  /** Histogram batches, bound for the buffer as REPORT records. */
  emitHistograms: (h: HistogramBatch) => void;
  metrics: Registry;
  log: Logger;
}

/**
 * The data plane's capture side: raw context ring, capture decisions with hourly limits, and the
 * per-hour feature histograms for drift. The desired state's policy replaces the config's rules when
 * present; the hourly limits of `deps.config` (the agent's file/env config) cap every later policy.
 */
export class CaptureStage {
  private ring: RawRing | undefined;
  private readonly capturer: Capturer;
  private readonly histograms = new HistogramAccumulator();
  private config: Readonly<CaptureConfig>;
  private policy: CapturePolicy;
  private readonly m;

  constructor(private readonly deps: CaptureStageDeps) {
    this.config = deps.config;
    this.policy = policyFromConfig(deps.config);
    this.ring = deps.config.maxRawSeconds > 0 ? new RawRing(deps.channels, deps.config.maxRawSeconds) : undefined;
    this.capturer = new Capturer({
      policy: () => this.policy,
      now: deps.now,
      random: deps.random,
      raw: (asset, from, to) => this.ring?.slice(asset, from, to) ?? [],
      emit: deps.emitSample,
    });
    this.m = makeMetrics(deps.metrics);
  }

  /** Source sink tap: keeps raw context only while raw capture is on. */
  readonly accept = (block: SampleBlock): void => {
    if (this.ring && this.policy.enabled && this.policy.includeRaw) this.ring.push(block);
  };

  /**
   * Hot config from the desired state: the agent config's `capture.*` after the overlay, and the
   * desired state's CapturePolicy, whose rules win when present (undefined: the config's policy);
   * the hourly limits never exceed those of the config the stage was built with (the plant's caps).
   * Returns the swap, to run between two source blocks; the raw ring keeps its newest samples when resized.
   */
  prepare(config: Readonly<CaptureConfig>, desired: CapturePolicy | undefined): () => void {
    const policy = effectivePolicy(policyFromConfig(config), desired, this.deps.config);
    return () => {
      if (config.maxRawSeconds !== this.config.maxRawSeconds) {
        this.ring =
          config.maxRawSeconds <= 0
            ? undefined
            : (this.ring?.resized(config.maxRawSeconds) ?? new RawRing(this.deps.channels, config.maxRawSeconds));
      }
      this.config = config;
      this.policy = policy;
      this.deps.log.info({ policy, fromDesired: desired !== undefined }, 'capture.policy');
    };
  }

  currentPolicy(): CapturePolicy {
    return this.policy;
  }

  /** A scored window; `values` are the model inputs in manifest order, valid only during the call. */
  onPrediction(p: PredictionEvent, manifest: ModelManifest, values: ArrayLike<number>): void {
    if (this.config.histograms) this.histograms.observe(manifest, values, p.windowEndMs);
    const o = manifest.output;
    const uncertain = o.uncertainHigh > o.uncertainLow && p.score >= o.uncertainLow && p.score < o.uncertainHigh;
    this.capturer.observe(
      p,
      manifest.inputs.map((f) => f.name),
      values,
      uncertain,
    );
  }

  /** An operator label was stored: keep the windows around it. */
  onLabel(predictionId: string, atMs: number): void {
    this.capturer.label(predictionId, atMs);
  }

  /** Periodic report: histogram batches due (all with `force`) and the capture counters. */
  report(nowMs: number, force = false): void {
    for (const h of this.histograms.take(nowMs, this.config.histogramFlushS * 1000, force)) this.deps.emitHistograms(h);
    const s = this.capturer.takeStats();
    for (const [reason, n] of Object.entries(s.captured)) if (n > 0) this.m.captured.inc({ reason }, n);
    this.m.bytes.inc(s.bytes);
    if (s.limitedSamples > 0) this.m.limited.inc({ limit: 'samples' }, s.limitedSamples);
    if (s.limitedBytes > 0) this.m.limited.inc({ limit: 'bytes' }, s.limitedBytes);
    if (s.limitedSamples + s.limitedBytes > 0)
      this.deps.log.warn({ limitedSamples: s.limitedSamples, limitedBytes: s.limitedBytes }, 'capture.limited');
  }
}

function makeMetrics(registry: Registry) {
  const r = [registry];
  return {
    captured: new Counter({
      name: 'mw_agent_captured_samples_total',
      help: 'Windows kept for training, by reason',
      labelNames: ['reason'],
      registers: r,
    }),
    bytes: new Counter({ name: 'mw_agent_captured_bytes_total', help: 'Estimated bytes captured', registers: r }),
    limited: new Counter({
      name: 'mw_agent_capture_limited_total',
      help: 'Windows a capture rule wanted but an hourly limit refused',
      labelNames: ['limit'],
      registers: r,
    }),
  };
}
