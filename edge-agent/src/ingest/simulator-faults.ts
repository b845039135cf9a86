import { Rng } from './prng.js';
import type { SimAsset, SimChannel } from './simulator-config.js';

/** Ground truth of an injected sensor/data fault, for scoring the cleaning stage. */
export type SimTruthEvent =
  | { kind: 'spike'; channel: string; tMs: number; value: number }
  | { kind: 'nan'; channel: string; tMs: number }
  | { kind: 'stuck'; channel: string; fromMs: number; durationMs: number; value: number }
  | { kind: 'dropout'; channel: string; fromMs: number; durationMs: number };

/** Counts of what the simulator injected and emitted. */
export interface SimulatorStats {
  frames: number;
  blocks: number;
  samples: number;
  droppedBlocks: number;
  skippedFrames: number;
  spikes: number;
  nans: number;
  stuckEpisodes: number;
  dropoutEpisodes: number;
  sinkErrors: number;
}

/** One frame of one channel, as the fault injector sees it. */
export interface FrameView {
  values: Float64Array;
  n: number;
  t0Ms: number;
  frameMs: number;
  sampleRateHz: number;
}

/**
 * Sensor and data faults of one channel (stuck, NaN, spike, dropout). Each fault kind draws from
 * its own stream, so enabling one never changes where another occurs.
 */
export class ChannelFaults {
  private readonly rng: Record<'stuck' | 'nan' | 'spike' | 'dropout', Rng>;
  private stuckFrames = 0;
  private held = Number.NaN;
  private dropFrames = 0;
  private last = Number.NaN;

  constructor(
    private readonly asset: SimAsset,
    private readonly suffix: SimChannel,
    private readonly channel: string,
    seed: number,
    private readonly stats: SimulatorStats,
    private readonly onTruth: ((e: SimTruthEvent) => void) | undefined,
  ) {
    const s = (k: string) => new Rng(seed, `${channel}/${k}`);
    this.rng = { stuck: s('stuck'), nan: s('nan'), spike: s('spike'), dropout: s('dropout') };
  }

  /** Corrupts `f.values` in place; returns false when the block is lost to a dropout. */
  apply(f: FrameView): boolean {
    this.stuck(f);
    // remembered before glitches so a stuck episode holds a plausible reading
    if (f.n > 0) this.last = f.values[f.n - 1]!;
    this.nan(f);
    this.spike(f);
    return !this.dropout(f);
  }

  private stuck(f: FrameView): void {
    const cfg = this.asset.stuck;
    if (this.stuckFrames === 0 && cfg?.channels.includes(this.suffix) && Number.isFinite(this.last)) {
      if (this.rng.stuck.next() < (cfg.ratePerHour * f.frameMs) / 3_600_000) {
        this.stuckFrames = this.episodeFrames(this.rng.stuck, cfg.meanDurationS, f.frameMs);
        this.held = this.last;
        this.stats.stuckEpisodes++;
        this.truth({
          kind: 'stuck',
          channel: this.channel,
          fromMs: f.t0Ms,
          durationMs: this.stuckFrames * f.frameMs,
          value: this.held,
        });
      }
    }
    if (this.stuckFrames === 0) return;
    this.stuckFrames--;
    f.values.fill(this.held, 0, f.n);
  }

  private nan(f: FrameView): void {
    const cfg = this.asset.nans;
    if (!cfg?.channels.includes(this.suffix) || f.n === 0) return;
    if (this.rng.nan.next() >= (cfg.ratePerHour * f.n) / (f.sampleRateHz * 3600)) return;
    const i = this.rng.nan.int(f.n);
    f.values[i] = Number.NaN;
    this.stats.nans++;
    this.truth({ kind: 'nan', channel: this.channel, tMs: f.t0Ms + (i * 1000) / f.sampleRateHz });
  }

  private spike(f: FrameView): void {
    const cfg = this.asset.spikes;
    if (!cfg?.channels.includes(this.suffix) || f.n === 0) return;
    if (this.rng.spike.next() >= (cfg.ratePerHour * f.n) / (f.sampleRateHz * 3600)) return;
    const i = this.rng.spike.int(f.n);
    const sign = this.suffix.startsWith('vib') && this.rng.spike.next() < 0.5 ? -1 : 1;
    const value = sign * this.spikeMagnitude() * (0.7 + 0.6 * this.rng.spike.next());
    f.values[i] = value;
    this.stats.spikes++;
    this.truth({ kind: 'spike', channel: this.channel, tMs: f.t0Ms + (i * 1000) / f.sampleRateHz, value });
  }

  private dropout(f: FrameView): boolean {
    const cfg = this.asset.dropouts;
    if (this.dropFrames === 0 && cfg?.channels.includes(this.suffix)) {
      if (this.rng.dropout.next() < (cfg.ratePerHour * f.frameMs) / 3_600_000) {
        this.dropFrames = this.episodeFrames(this.rng.dropout, cfg.meanDurationS, f.frameMs);
        this.stats.dropoutEpisodes++;
        this.truth({ kind: 'dropout', channel: this.channel, fromMs: f.t0Ms, durationMs: this.dropFrames * f.frameMs });
      }
    }
    if (this.dropFrames === 0) return false;
    this.dropFrames--;
    return true;
  }

  private spikeMagnitude(): number {
    const cfg = this.asset.spikes!;
    if (this.suffix.startsWith('vib')) return cfg.vibrationG;
    return this.suffix === 'current' ? cfg.currentA : cfg.temperatureC;
  }

  private episodeFrames(rng: Rng, meanS: number, frameMs: number): number {
    return Math.max(1, Math.round((rng.exponential(meanS) * 1000) / frameMs));
  }

  private truth(e: SimTruthEvent): void {
    this.onTruth?.(e);
  }
}
