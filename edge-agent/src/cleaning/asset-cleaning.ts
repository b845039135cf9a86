/**
 * The cleaners of one asset plus its drift monitor. Drift intervals run on data time: an interval
 * closes once every channel of the asset has delivered data past its end, so no clock is needed.
 * A channel ahead of the others contributes the points it already has (at most one block beyond
 * the boundary), which is negligible against intervals of seconds.
 */
import type { ChannelSpec, SampleBlock } from '../domain/channel.js';
import { MillwrightError } from '../domain/errors.js';
import type { ChannelQuality, CleanedSink } from './channel-cleaner.js';
import { ChannelCleaner } from './channel-cleaner.js';
import type { AssetDriftConfig, ChannelCleaningConfig } from './config.js';
import { DriftMonitor } from './drift.js';

export interface AssetCleaningDeps {
  /** Channels of one asset. */
  channels: readonly ChannelSpec[];
  /** Cleaning config by channel name; every channel needs one. */
  configs: Readonly<Record<string, ChannelCleaningConfig>>;
  drift: AssetDriftConfig;
}

export class AssetCleaning {
  readonly asset: string;
  readonly cleaners: readonly ChannelCleaner[];
  readonly drift: DriftMonitor;
  private readonly byName = new Map<string, number>();
  private readonly lastT: Float64Array;
  private readonly levels: Float64Array;
  private readonly intervalMs: number;
  private boundary = Number.NaN;

  /** @throws MillwrightError INVALID when channels span assets or a channel has no config. */
  constructor(deps: AssetCleaningDeps) {
    const first = deps.channels[0];
    if (first === undefined) throw new MillwrightError('INVALID', 'an asset needs at least one channel');
    this.asset = first.asset;
    this.intervalMs = deps.drift.intervalMs;
    this.cleaners = deps.channels.map((spec, i) => {
      const config = deps.configs[spec.name];
      if (spec.asset !== this.asset || config === undefined) {
        throw new MillwrightError('INVALID', 'channel has no cleaning config or belongs to another asset', {
          channel: spec.name,
          asset: this.asset,
        });
      }
      this.byName.set(spec.name, i);
      return new ChannelCleaner(spec, config);
    });
    const driftConfigs = Object.fromEntries(deps.channels.map((c) => [c.name, deps.configs[c.name]?.drift]));
    this.drift = new DriftMonitor(
      deps.channels.map((c) => c.name),
      driftConfigs,
      deps.drift,
    );
    this.lastT = new Float64Array(deps.channels.length).fill(Number.NaN);
    this.levels = new Float64Array(deps.channels.length);
  }

  /**
   * Cleans a block of one of the asset's channels; see `ChannelCleaner.process`.
   * @throws MillwrightError NOT_FOUND when the channel is not one of the asset's.
   */
  process(block: SampleBlock, sink: CleanedSink): void {
    const i = this.byName.get(block.channel);
    if (i === undefined) {
      throw new MillwrightError('NOT_FOUND', 'channel is not part of this asset', {
        channel: block.channel,
        asset: this.asset,
      });
    }
    this.cleaners[i]!.process(block, sink);
    if (block.length === 0) return;
    this.lastT[i] = block.t0Ms + (block.length * 1000) / block.sampleRateHz;
    if (Number.isNaN(this.boundary)) this.boundary = block.t0Ms + this.intervalMs;
    this.closeIntervals();
  }

  /** Counts per channel since the last snapshot; resets them. */
  snapshot(): ChannelQuality[] {
    return this.cleaners.map((c) => c.snapshot());
  }

  private closeIntervals(): void {
    let slowest = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.lastT.length; i++) slowest = Math.min(slowest, this.lastT[i]!);
    if (!(slowest >= this.boundary)) return;
    for (let i = 0; i < this.cleaners.length; i++) this.levels[i] = this.cleaners[i]!.takeLevel();
    this.drift.observe(this.levels);
    for (let i = 0; i < this.cleaners.length; i++) {
      const s = this.drift.state(i);
      this.cleaners[i]!.setDrift(s.drifting, s.score);
    }
    this.boundary += this.intervalMs * (Math.floor((slowest - this.boundary) / this.intervalMs) + 1);
  }
}
