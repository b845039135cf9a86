import type { PredictionEvent } from '../domain/prediction.js';
import type { CapturePolicy } from './policy.js';
import type { RawSlice } from './raw-ring.js';

export type CaptureReasonName = 'uncertain' | 'alert' | 'random' | 'label';

/** One kept window, ready to be encoded as a CapturedSample. */
export interface CapturedWindow {
  sampleId: string;
  reason: CaptureReasonName;
  prediction: PredictionEvent;
  /** Model input names (manifest order) and values; empty when features are off. */
  names: readonly string[];
  values: number[];
  raw: RawSlice[];
  /** Estimate of the encoded size, counted against the hourly byte limit. */
  bytes: number;
}

/** Counts since the last `takeStats()`. */
export interface CaptureStats {
  captured: Record<CaptureReasonName, number>;
  bytes: number;
  /** Windows a rule wanted but an hourly limit refused. */
  limitedSamples: number;
  limitedBytes: number;
}

export interface CapturerDeps {
  policy: () => CapturePolicy;
  now: () => number;
  random: () => number;
  /** Raw context of an asset's channels, when raw capture is on. */
  raw: (asset: string, startMs: number, endMs: number) => RawSlice[];
  emit: (w: CapturedWindow) => void;
  /** @default 1024 */
  maxRing?: number;
}

interface RingEntry {
  prediction: PredictionEvent;
  names: readonly string[];
  values: number[];
  captured: boolean;
}

const HOUR_MS = 3_600_000;
/** Fixed part of an encoded sample (ids, names of model and version, framing). */
const SAMPLE_OVERHEAD_BYTES = 160;

/**
 * Decides which scored windows become captured samples: alerts, the uncertainty band, a random
 * rate, and every window within `aroundLabelS` of an operator label (a ring of recent windows is
 * kept in memory and flushed when a label arrives; windows scored up to `aroundLabelS` after it
 * are kept too). Hourly sample and byte limits are enforced here and every refusal is counted.
 */
export class Capturer {
  private readonly ring: RingEntry[] = [];
  private hour = -1;
  private hourSamples = 0;
  private hourBytes = 0;
  private followUntilMs = 0;
  private followAsset: string | undefined;
  private counter = 0;
  private stats: CaptureStats = emptyStats();

  constructor(private readonly deps: CapturerDeps) {}

  /**
   * One scored window. `uncertain` comes from the model's band; `values` is read during the call only.
   */
  observe(p: PredictionEvent, names: readonly string[], values: ArrayLike<number>, uncertain: boolean): void {
    const policy = this.deps.policy();
    if (!policy.enabled) return;
    const entry: RingEntry = { prediction: p, names, values: Array.from(values), captured: false };
    if (policy.aroundLabelS > 0) this.remember(entry, policy);
    const reason = this.reasonFor(p, uncertain, policy);
    if (reason) this.capture(entry, reason, policy);
  }

  /**
   * An operator label on `predictionId`: keeps the remembered windows around the labelled one (or
   * around `atMs` when it is no longer remembered) and the windows of the next `aroundLabelS`.
   * Returns how many windows were kept now.
   */
  label(predictionId: string, atMs: number): number {
    const policy = this.deps.policy();
    if (!policy.enabled || policy.aroundLabelS <= 0) return 0;
    const target = this.ring.find((e) => e.prediction.predictionId === predictionId);
    const centre = target ? target.prediction.windowEndMs : atMs;
    const span = policy.aroundLabelS * 1000;
    const asset = target?.prediction.asset;
    let kept = 0;
    // The labelled window itself is kept again even if a rule kept it before: its earlier row may be
    // sealed without the label already, and training needs one row that carries it.
    if (target?.captured && this.capture(target, 'label', policy)) kept++;
    for (const e of this.ring) {
      if (e.captured || (asset !== undefined && e.prediction.asset !== asset)) continue;
      if (Math.abs(e.prediction.windowEndMs - centre) > span) continue;
      if (this.capture(e, 'label', policy)) kept++;
    }
    this.followUntilMs = Math.max(this.followUntilMs, Math.max(centre, atMs) + span);
    this.followAsset = asset;
    return kept;
  }

  takeStats(): CaptureStats {
    const s = this.stats;
    this.stats = emptyStats();
    return s;
  }

  private reasonFor(p: PredictionEvent, uncertain: boolean, policy: CapturePolicy): CaptureReasonName | undefined {
    if (policy.alerts && p.decision === 'alert') return 'alert';
    if (policy.uncertain && uncertain) return 'uncertain';
    if (p.windowEndMs <= this.followUntilMs && (this.followAsset === undefined || this.followAsset === p.asset))
      return 'label';
    if (policy.randomRate > 0 && this.deps.random() < policy.randomRate) return 'random';
    return undefined;
  }

  private remember(e: RingEntry, policy: CapturePolicy): void {
    this.ring.push(e);
    const oldest = e.prediction.windowEndMs - policy.aroundLabelS * 1000;
    let drop = 0;
    while (drop < this.ring.length && this.ring[drop]!.prediction.windowEndMs < oldest) drop++;
    drop = Math.max(drop, this.ring.length - (this.deps.maxRing ?? 1024));
    if (drop > 0) this.ring.splice(0, drop);
  }

  /** Applies the hourly limits; returns whether the window was kept. */
  private capture(e: RingEntry, reason: CaptureReasonName, policy: CapturePolicy): boolean {
    e.captured = true;
    this.rollHour();
    if (policy.maxSamplesPerHour > 0 && this.hourSamples >= policy.maxSamplesPerHour) {
      this.stats.limitedSamples++;
      return false;
    }
    const p = e.prediction;
    const raw = policy.includeRaw ? this.deps.raw(p.asset, p.windowStartMs, p.windowEndMs) : [];
    const withFeatures = policy.includeFeatures || raw.length === 0;
    const names = withFeatures ? e.names : [];
    const values = withFeatures ? e.values : [];
    const bytes = sizeOf(names, raw) + SAMPLE_OVERHEAD_BYTES;
    if (policy.maxBytesPerHour > 0 && this.hourBytes + bytes > policy.maxBytesPerHour) {
      this.stats.limitedBytes++;
      return false;
    }
    this.hourSamples++;
    this.hourBytes += bytes;
    this.stats.captured[reason]++;
    this.stats.bytes += bytes;
    const sampleId = `${p.predictionId}:c${++this.counter}`;
    this.deps.emit({ sampleId, reason, prediction: p, names, values, raw, bytes });
    return true;
  }

  private rollHour(): void {
    const hour = Math.floor(this.deps.now() / HOUR_MS);
    if (hour === this.hour) return;
    this.hour = hour;
    this.hourSamples = 0;
    this.hourBytes = 0;
  }
}

function sizeOf(names: readonly string[], raw: readonly RawSlice[]): number {
  let n = 0;
  for (const name of names) n += name.length + 10;
  for (const r of raw) n += r.samples.byteLength + r.channel.length + 32;
  return n;
}

function emptyStats(): CaptureStats {
  return { captured: { uncertain: 0, alert: 0, random: 0, label: 0 }, bytes: 0, limitedSamples: 0, limitedBytes: 0 };
}
