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
  private readonly specs: readonly ChannelSpec[];
  private readonly configs: ChannelCleaningConfig[];
  private readonly current: ChannelCleaner[];
  private driftConfig: AssetDriftConfig;
  private monitor: DriftMonitor;
  private readonly byName = new Map<string, number>();
  private readonly lastT: Float64Array;
  private readonly levels: Float64Array;
  private intervalMs: number;
  private boundary = Number.NaN;

  /** @throws MillwrightError INVALID when channels span assets or a channel has no config. */
  constructor(deps: AssetCleaningDeps) {
    const first = deps.channels[0];
    if (first === undefined) throw new MillwrightError('INVALID', 'an asset needs at least one channel');
    this.asset = first.asset;
    this.specs = deps.channels;
    this.intervalMs = deps.drift.intervalMs;
    this.configs = this.configsOf(deps.configs);
    this.current = deps.channels.map((spec, i) => {
      this.byName.set(spec.name, i);
      return new ChannelCleaner(spec, this.configs[i]!);
    });
    this.driftConfig = deps.drift;
    this.monitor = this.makeMonitor(this.configs, deps.drift);
    this.lastT = new Float64Array(deps.channels.length).fill(Number.NaN);
    this.levels = new Float64Array(deps.channels.length);
  }

  get cleaners(): readonly ChannelCleaner[] {
    return this.current;
  }

  get drift(): DriftMonitor {
    return this.monitor;
  }

  /**
   * Checks new parameters (same shape as the constructor's) and returns the swap, to run between
   * two blocks. Channels whose config changed hand over to a new cleaner (see
   * `ChannelCleaner.handOver`: the points held back, decided under the old parameters, leave ahead
   * of the channel's next block); unchanged ones keep theirs. The swap emits nothing, so no
   * downstream stage runs in it. Any change to drift parameters restarts drift learning on this
   * asset with a new monitor, since the learned reference belongs to the old parameters.
   * @throws MillwrightError INVALID when a channel has no config or a drift sibling is unknown;
   *   nothing has changed then.
   */
  prepare(configs: Readonly<Record<string, ChannelCleaningConfig>>, drift: AssetDriftConfig): () => void {
    const next = this.configsOf(configs);
    // The cleaner itself does not use its drift part: a drift-only change keeps the cleaner.
    const changed = next.map((c, i) =>
      sameConfig({ ...c, drift: undefined }, { ...this.configs[i], drift: undefined }) ? undefined : i,
    );
    const driftChanged =
      !sameConfig(drift, this.driftConfig) || next.some((c, i) => !sameConfig(c.drift, this.configs[i]!.drift));
    const monitor = driftChanged ? this.makeMonitor(next, drift) : undefined;
    const cleaners = changed.map((i) => (i === undefined ? undefined : new ChannelCleaner(this.specs[i]!, next[i]!)));
    return () => {
      for (const [i, cleaner] of cleaners.entries()) {
        if (cleaner) {
          this.current[i]!.handOver(cleaner);
          this.current[i] = cleaner;
        }
        // Only once the channel runs on them: a later prepare compares against what really runs.
        this.configs[i] = next[i]!;
      }
      if (!monitor) return;
      this.monitor = monitor;
      this.driftConfig = drift;
      this.intervalMs = drift.intervalMs;
      this.boundary = Number.NaN;
      for (const c of this.current) c.setDrift(false, 0);
    };
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
    this.current[i]!.process(block, sink);
    if (block.length === 0) return;
    this.lastT[i] = block.t0Ms + (block.length * 1000) / block.sampleRateHz;
    if (Number.isNaN(this.boundary)) this.boundary = block.t0Ms + this.intervalMs;
    this.closeIntervals();
  }

  /** Counts per channel since the last snapshot; resets them. */
  snapshot(): ChannelQuality[] {
    return this.current.map((c) => c.snapshot());
  }

  private configsOf(configs: Readonly<Record<string, ChannelCleaningConfig>>): ChannelCleaningConfig[] {
    return this.specs.map((spec) => {
      const config = configs[spec.name];
      if (spec.asset !== this.asset || config === undefined) {
        throw new MillwrightError('INVALID', 'channel has no cleaning config or belongs to another asset', {
          channel: spec.name,
          asset: this.asset,
        });
      }
      return config;
    });
  }

  private makeMonitor(configs: readonly ChannelCleaningConfig[], drift: AssetDriftConfig): DriftMonitor {
    const names = this.specs.map((c) => c.name);
    return new DriftMonitor(names, Object.fromEntries(names.map((n, i) => [n, configs[i]!.drift])), drift);
  }

  private closeIntervals(): void {
    let slowest = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.lastT.length; i++) slowest = Math.min(slowest, this.lastT[i]!);
    if (!(slowest >= this.boundary)) return;
    const cleaners = this.current;
    for (let i = 0; i < cleaners.length; i++) this.levels[i] = cleaners[i]!.takeLevel();
    this.monitor.observe(this.levels);
    for (let i = 0; i < cleaners.length; i++) {
      const s = this.monitor.state(i);
      cleaners[i]!.setDrift(s.drifting, s.score);
    }
    this.boundary += this.intervalMs * (Math.floor((slowest - this.boundary) / this.intervalMs) + 1);
  }
}

/** Structural equality of two plain configs (key order ignored). */
function sameConfig(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => sameConfig((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
