/**
 * Per-asset feature assembly: the feature extractors of an asset's channels, and bindings that
 * fill a model's input vector (its ordered feature names) once every channel the model reads has
 * completed a window since the previous vector. Names are resolved to slots once, when a model
 * binds, so a schema mismatch fails at load time and filling is a copy per slot.
 */
import type { CleanedBlock } from '../cleaning/channel-cleaner.js';
import type { ChannelSpec } from '../domain/channel.js';
import { MillwrightError, ModelLoadError } from '../domain/errors.js';
import type { FeatureSpec } from '../domain/model.js';
import { ChannelFeatures } from './channel-features.js';
import type { ChannelFeatureConfig } from './config.js';

export interface AssetFeaturesDeps {
  /** Channels of one asset. */
  channels: readonly ChannelSpec[];
  /** Feature config by channel name; every channel needs one. */
  configs: Readonly<Record<string, ChannelFeatureConfig>>;
}

/** A filled input vector, valid only during the listener call. */
export interface FeatureVectorReady {
  asset: string;
  /** Feature values in the order of `names`. */
  vector: Float64Array;
  names: readonly string[];
  /** Earliest start and latest end of the channel windows used. */
  windowStartMs: number;
  windowEndMs: number;
  /** Bad points over all points of the windows used. */
  badFraction: number;
}

export type VectorListener = (ready: FeatureVectorReady) => void;

interface Binding {
  ready: FeatureVectorReady;
  /** Per slot: extractor index and feature index. */
  extractor: Int32Array;
  feature: Int32Array;
  /** Extractors read, and the window count of each at the last vector. */
  uses: Int32Array;
  seen: Float64Array;
  listener: VectorListener;
}

export class AssetFeatures {
  readonly asset: string;
  readonly extractors: readonly ChannelFeatures[];
  private readonly byName = new Map<string, number>();
  private readonly bindings: Binding[] = [];

  /** @throws MillwrightError INVALID when channels span assets or a channel has no config. */
  constructor(deps: AssetFeaturesDeps) {
    const first = deps.channels[0];
    if (first === undefined) throw new MillwrightError('INVALID', 'an asset needs at least one channel');
    this.asset = first.asset;
    this.extractors = deps.channels.map((spec, i) => {
      const config = deps.configs[spec.name];
      if (spec.asset !== this.asset || config === undefined) {
        throw new MillwrightError('INVALID', 'channel has no feature config or belongs to another asset', {
          channel: spec.name,
          asset: this.asset,
        });
      }
      this.byName.set(spec.name, i);
      return new ChannelFeatures(spec, config, () => this.onWindow());
    });
  }

  /** Every feature the asset produces, with units. */
  get catalog(): FeatureSpec[] {
    return this.extractors.flatMap((e) => e.features);
  }

  /**
   * Appends a cleaned block of one of the asset's channels.
   * @throws MillwrightError NOT_FOUND when the channel is not one of the asset's.
   */
  push(block: CleanedBlock): void {
    const i = this.byName.get(block.channel);
    if (i === undefined) {
      throw new MillwrightError('NOT_FOUND', 'channel is not part of this asset', {
        channel: block.channel,
        asset: this.asset,
      });
    }
    this.extractors[i]!.push(block);
  }

  /**
   * Binds a model input schema: `listener` gets a vector in `names` order each time every channel
   * it reads has a new window.
   * @throws ModelLoadError listing every name the asset does not produce, or a unit that differs.
   */
  bind(inputs: readonly (string | FeatureSpec)[], listener: VectorListener): void {
    const specs = inputs.map((x) => (typeof x === 'string' ? { name: x, unit: undefined } : x));
    const slots = specs.map((s) => this.locate(s.name));
    const problems = this.schemaProblems(specs, slots);
    if (problems.length > 0) {
      throw new ModelLoadError(`model inputs do not match the features of asset ${this.asset}`, {
        asset: this.asset,
        problems,
        available: this.catalog.map((f) => f.name),
      });
    }
    const uses = [...new Set(slots.map((s) => s![0]))];
    this.bindings.push({
      ready: {
        asset: this.asset,
        vector: new Float64Array(specs.length),
        names: specs.map((s) => s.name),
        windowStartMs: Number.NaN,
        windowEndMs: Number.NaN,
        badFraction: Number.NaN,
      },
      extractor: Int32Array.from(slots, (s) => s![0]),
      feature: Int32Array.from(slots, (s) => s![1]),
      uses: Int32Array.from(uses),
      seen: new Float64Array(uses.length),
      listener,
    });
  }

  private locate(name: string): [number, number] | undefined {
    for (let e = 0; e < this.extractors.length; e++) {
      const f = this.extractors[e]!.features.findIndex((x) => x.name === name);
      if (f >= 0) return [e, f];
    }
    return undefined;
  }

  private schemaProblems(specs: { name: string; unit: string | undefined }[], slots: ([number, number] | undefined)[]) {
    const problems: string[] = [];
    specs.forEach((s, i) => {
      const slot = slots[i];
      if (slot === undefined) problems.push(`${s.name}: not produced`);
      else {
        const unit = this.extractors[slot[0]]!.features[slot[1]]!.unit;
        if (s.unit !== undefined && s.unit !== unit) problems.push(`${s.name}: unit ${s.unit}, produced in ${unit}`);
      }
    });
    return problems;
  }

  private onWindow(): void {
    for (const b of this.bindings) if (this.isFresh(b)) this.fill(b);
  }

  private isFresh(b: Binding): boolean {
    for (let u = 0; u < b.uses.length; u++) if (this.extractors[b.uses[u]!]!.windows <= b.seen[u]!) return false;
    return true;
  }

  private fill(b: Binding): void {
    const v = b.ready.vector;
    for (let s = 0; s < v.length; s++) v[s] = this.extractors[b.extractor[s]!]!.values[b.feature[s]!]!;
    let start = Number.POSITIVE_INFINITY;
    let end = Number.NEGATIVE_INFINITY;
    let bad = 0;
    let points = 0;
    for (let u = 0; u < b.uses.length; u++) {
      const e = this.extractors[b.uses[u]!]!;
      b.seen[u] = e.windows;
      start = Math.min(start, e.windowStartMs);
      end = Math.max(end, e.windowEndMs);
      bad += e.badFraction * e.windowSize;
      points += e.windowSize;
    }
    b.ready.windowStartMs = start;
    b.ready.windowEndMs = end;
    b.ready.badFraction = bad / points;
    b.listener(b.ready);
  }
}
