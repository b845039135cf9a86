import type { ChannelSpec, SampleSink, Source } from '../domain/channel.js';
import { MillwrightError } from '../domain/errors.js';
import { safeSink } from './channel-schema.js';
import type { Cancel, Clock } from './clock.js';
import {
  SIM_CHANNELS,
  type SimAsset,
  type SimChannel,
  type SimulatorConfig,
  type SimulatorConfigInput,
  SimulatorConfigSchema,
} from './simulator-config.js';
import { ChannelFaults, type SimTruthEvent, type SimulatorStats } from './simulator-faults.js';
import { AssetPhysics, faultSeverity } from './simulator-physics.js';

export { type SimulatorConfig, type SimulatorConfigInput, SimulatorConfigSchema } from './simulator-config.js';
export type { SimTruthEvent, SimulatorStats } from './simulator-faults.js';

/** What the simulator needs from outside. */
export interface SimulatorDeps {
  clock: Clock;
  /** Receives the ground truth of every injected data fault (for scoring the cleaning stage). */
  onTruth?: (e: SimTruthEvent) => void;
}

interface SimChannelState {
  spec: ChannelSpec;
  suffix: SimChannel;
  values: Float64Array;
  faults: ChannelFaults;
}

const UNITS: Record<SimChannel, string> = { vib_h: 'g', vib_v: 'g', temp_de: 'degC', temp_nde: 'degC', current: 'A' };

class SimAssetRunner {
  readonly channels: SimChannelState[];
  private readonly physics: AssetPhysics;

  constructor(
    readonly asset: SimAsset,
    private readonly cfg: SimulatorConfig,
    stats: SimulatorStats,
    onTruth: SimulatorDeps['onTruth'],
  ) {
    this.physics = new AssetPhysics(asset, cfg.seed);
    this.channels = SIM_CHANNELS.map((suffix) => {
      const spec = channelSpec(asset, suffix);
      const values = new Float64Array(Math.ceil((cfg.frameMs * spec.sampleRateHz) / 1000) + 1);
      return { spec, suffix, values, faults: new ChannelFaults(asset, suffix, spec.name, cfg.seed, stats, onTruth) };
    });
  }

  /** Clean values of frame `k` into every channel's buffer; returns the sample range per channel. */
  fill(k: number): Array<[number, number]> {
    const tDegH = (((k + 0.5) * this.cfg.frameMs) / 3_600_000) * this.cfg.timeCompression;
    const severity = faultSeverity(this.asset.bearingFault, tDegH);
    const ranges = this.channels.map((c) => sampleRange(k, this.cfg.frameMs, c.spec.sampleRateHz));
    const [vh, vv] = [this.channels[0]!, this.channels[1]!];
    const [i0, i1] = ranges[0]!;
    this.physics.fillVibration(i0, i1 - i0, severity, vh.values, vv.values);
    for (let c = 2; c < this.channels.length; c++) this.fillProcess(this.channels[c]!, ranges[c]!, severity);
    this.applyDrift(tDegH, ranges);
    return ranges;
  }

  private fillProcess(c: SimChannelState, [i0, i1]: [number, number], severity: number): void {
    for (let i = i0; i < i1; i++) {
      const tS = i / c.spec.sampleRateHz;
      c.values[i - i0] =
        c.suffix === 'current'
          ? this.physics.current(tS, severity)
          : this.physics.temperature(tS, severity, c.suffix === 'temp_de');
    }
  }

  private applyDrift(tDegH: number, ranges: Array<[number, number]>): void {
    const d = this.asset.drift;
    if (!d || tDegH <= d.startH) return;
    const c = SIM_CHANNELS.indexOf(d.channel);
    const [i0, i1] = ranges[c]!;
    const values = this.channels[c]!.values;
    const offset = d.ratePerHour * (tDegH - d.startH);
    for (let i = 0; i < i1 - i0; i++) values[i] = values[i]! + offset;
  }
}

function channelSpec(asset: SimAsset, suffix: SimChannel): ChannelSpec {
  const vib = suffix.startsWith('vib');
  const rate = vib ? asset.vibrationRateHz : suffix === 'current' ? asset.currentRateHz : asset.temperatureRateHz;
  return {
    name: `${asset.name}.${suffix}`,
    unit: UNITS[suffix],
    sampleRateHz: rate,
    kind: vib ? 'vibration' : 'process',
    asset: asset.name,
  };
}

/**
 * Sample indices [i0, i1) whose times fall inside frame `k` for a channel at `rateHz`; a function of
 * `k` only, so output does not depend on tick timing.
 */
function sampleRange(k: number, frameMs: number, rateHz: number): [number, number] {
  const at = (f: number) => Math.ceil((f * frameMs * rateHz) / 1000 - 1e-9);
  return [at(k), at(k + 1)];
}

function emptyStats(): SimulatorStats {
  return {
    frames: 0,
    blocks: 0,
    samples: 0,
    droppedBlocks: 0,
    skippedFrames: 0,
    spikes: 0,
    nans: 0,
    stuckEpisodes: 0,
    dropoutEpisodes: 0,
    sinkErrors: 0,
  };
}

/**
 * Seeded plant simulator: per asset two vibration axes at kHz rates, two bearing temperatures and
 * motor current, with a developing bearing defect and the data faults real plants produce.
 * Samples are generated in fixed frames from the simulation start, so the output depends only on
 * seed and scenario, not on when the clock happens to tick.
 */
export class SimulatorSource implements Source {
  readonly id: string;
  readonly channels: readonly ChannelSpec[];
  readonly config: SimulatorConfig;
  private readonly runners: SimAssetRunner[];
  private readonly counters = emptyStats();
  private nextFrame = 0;
  private startMs = 0;
  private cancel: Cancel | undefined;
  private sink: SampleSink | undefined;

  constructor(
    config: SimulatorConfigInput,
    private readonly deps: SimulatorDeps,
  ) {
    this.config = SimulatorConfigSchema.parse(config);
    this.id = this.config.id;
    this.runners = this.config.assets.map((a) => new SimAssetRunner(a, this.config, this.counters, deps.onTruth));
    this.channels = this.runners.flatMap((r) => r.channels.map((c) => c.spec));
  }

  async start(sink: SampleSink): Promise<void> {
    if (this.sink) throw new MillwrightError('PRECONDITION', `source ${this.id} already started`, { source: this.id });
    this.sink = sink;
    this.startMs = this.config.startTimeMs ?? this.deps.clock.now();
    this.cancel = this.deps.clock.schedule(this.config.tickMs, () => this.tick());
  }

  async stop(): Promise<void> {
    this.cancel?.();
    this.cancel = undefined;
    this.sink = undefined;
  }

  /** Counters since construction. */
  stats(): SimulatorStats {
    return { ...this.counters };
  }

  /**
   * Generates the next `frames` frames into `sink` at once, without the clock (benchmarks, batch
   * generation). Timestamps count from `startMs`.
   */
  generate(frames: number, sink: SampleSink, startMs = this.config.startTimeMs ?? 0): void {
    this.startMs = startMs;
    for (let i = 0; i < frames; i++) this.emitFrame(sink);
  }

  private tick(): void {
    const sink = this.sink;
    if (!sink) return;
    const due = Math.floor((this.deps.clock.now() - this.startMs) / this.config.frameMs);
    const maxLagFrames = Math.ceil(this.config.maxLagMs / this.config.frameMs);
    if (due - this.nextFrame > maxLagFrames) {
      this.counters.skippedFrames += due - 1 - this.nextFrame;
      this.nextFrame = due - 1;
    }
    while (this.nextFrame < due && this.sink) this.emitFrame(sink);
    if (this.sink) this.cancel = this.deps.clock.schedule(this.config.tickMs, () => this.tick());
  }

  private emitFrame(sink: SampleSink): void {
    const k = this.nextFrame++;
    for (const runner of this.runners) {
      const ranges = runner.fill(k);
      for (let i = 0; i < runner.channels.length; i++) this.emitChannel(sink, runner.channels[i]!, ranges[i]!);
    }
    this.counters.frames++;
  }

  private emitChannel(sink: SampleSink, c: SimChannelState, [i0, i1]: [number, number]): void {
    const n = i1 - i0;
    const rate = c.spec.sampleRateHz;
    const t0Ms = this.startMs + (i0 * 1000) / rate;
    const kept = c.faults.apply({ values: c.values, n, t0Ms, frameMs: this.config.frameMs, sampleRateHz: rate });
    if (!kept) {
      if (n > 0) this.counters.droppedBlocks++;
      return;
    }
    if (n === 0) return;
    if (!safeSink(sink, { channel: c.spec.name, t0Ms, sampleRateHz: rate, values: c.values, length: n })) {
      this.counters.sinkErrors++;
      return;
    }
    this.counters.blocks++;
    this.counters.samples += n;
  }
}
