import { AssetCleaning } from '../cleaning/asset-cleaning.js';
import type { ChannelQuality, CleanedBlock } from '../cleaning/channel-cleaner.js';
import type { AssetDriftConfig, ChannelCleaningConfig } from '../cleaning/config.js';
import type { ChannelSpec, SampleBlock } from '../domain/channel.js';
import { ModelLoadError } from '../domain/errors.js';
import type { FeatureSpec } from '../domain/model.js';
import type { PredictionEvent } from '../domain/prediction.js';
import { AssetFeatures, type FeatureVectorReady } from '../features/asset-features.js';
import type { ChannelFeatureConfig } from '../features/config.js';
import { allFinite } from '../inference/reasons.js';
import type { LoadedModel } from '../inference/runtime.js';
import { ModelStatsAccumulator, type ModelStatsSnapshot } from './model-stats.js';
import { RawWindowCollector } from './raw-windows.js';

/** Where the pipeline gets its models; switching is a pointer swap between two inferences. */
export interface ModelProvider {
  active(): LoadedModel | undefined;
  /** A candidate scored beside the active model, never acted on. */
  shadow(): LoadedModel | undefined;
  /** Per-inference evidence for the local watchdog. */
  observe?(
    version: string,
    latencyUs: number,
    decision: PredictionEvent['decision'],
    error?: unknown,
    score?: number,
  ): void;
}

export interface PipelineDeps {
  agentId: string;
  /** Short random id of this process, so prediction ids stay unique across restarts. */
  bootId: string;
  channels: readonly ChannelSpec[];
  cleaning: (channel: ChannelSpec) => ChannelCleaningConfig;
  features: (channel: ChannelSpec) => ChannelFeatureConfig;
  drift: AssetDriftConfig;
  models: ModelProvider;
  now: () => number;
  /** Called for every scored window; `features` is valid only during the call. */
  onPrediction: (p: PredictionEvent, features: { names: readonly string[]; values: Float64Array }) => void;
  /** A model that cannot serve this agent's features (schema mismatch) or throws. */
  onModelError: (err: unknown, version: string) => void;
}

interface AssetStage {
  asset: string;
  channels: readonly ChannelSpec[];
  cleaning: AssetCleaning;
  features: AssetFeatures;
  /** Versions already bound (or refused) on this asset. */
  bound: Map<LoadedModel, boolean>;
  /** Raw-window collectors of models that compute their own features. */
  raw: Map<LoadedModel, RawWindowCollector>;
}

/**
 * sources -> cleaning -> features -> inference, per asset, synchronous and allocation-free per
 * point. Model inputs name features either fully (`pump-1.vib_h.rms`) or relative to the asset
 * (`vib_h.rms`, resolved to `<asset>.vib_h.rms`), so one fleet model serves every asset of a type.
 */
export class EdgePipeline {
  private readonly stages = new Map<string, AssetStage>();
  private readonly byChannel = new Map<string, AssetStage>();
  private readonly stats = new Map<string, ModelStatsAccumulator>();
  private lastActive: LoadedModel | undefined;
  private counter = 0;
  private readonly sinkFor = new Map<AssetStage, (b: CleanedBlock) => void>();

  constructor(private readonly deps: PipelineDeps) {
    const byAsset = new Map<string, ChannelSpec[]>();
    for (const c of deps.channels) byAsset.set(c.asset, [...(byAsset.get(c.asset) ?? []), c]);
    for (const [asset, channels] of byAsset) {
      const stage: AssetStage = {
        asset,
        channels,
        raw: new Map(),
        cleaning: new AssetCleaning({
          channels,
          configs: Object.fromEntries(channels.map((c) => [c.name, deps.cleaning(c)])),
          drift: deps.drift,
        }),
        features: new AssetFeatures({
          channels,
          configs: Object.fromEntries(channels.map((c) => [c.name, deps.features(c)])),
        }),
        bound: new Map(),
      };
      this.stages.set(asset, stage);
      this.sinkFor.set(stage, (b) => {
        stage.features.push(b);
        for (const r of stage.raw.values()) r.push(b);
      });
      for (const c of channels) this.byChannel.set(c.name, stage);
    }
  }

  /** The source sink. Unknown channels are ignored (counted by the caller's source stats). */
  readonly accept = (block: SampleBlock): void => {
    const active = this.deps.models.active();
    if (active !== this.lastActive) this.bindAll(active);
    const stage = this.byChannel.get(block.channel);
    if (stage) stage.cleaning.process(block, this.sinkFor.get(stage)!);
  };

  /**
   * Releases the points the centred spike filter still holds back (it decides a point only once h
   * later samples arrived): call when a finite source (a file replay) ends.
   */
  flush(): void {
    for (const stage of this.stages.values())
      for (const c of stage.cleaning.cleaners) c.flush(this.sinkFor.get(stage)!);
  }

  /**
   * Checks new cleaning parameters on every asset and returns the swap. Run it between two source
   * blocks (any time outside `accept`): changed channels release the points their spike filter holds
   * back under the old parameters, then go on under the new ones, so no point is lost or doubled.
   * @throws MillwrightError INVALID (nothing changed) when the parameters do not fit the channels.
   */
  prepareCleaning(cleaning: (channel: ChannelSpec) => ChannelCleaningConfig, drift: AssetDriftConfig): () => void {
    const swaps = [...this.stages.values()].map((stage) =>
      stage.cleaning.prepare(Object.fromEntries(stage.channels.map((c) => [c.name, cleaning(c)])), drift),
    );
    return () => {
      for (const swap of swaps) swap();
    };
  }

  /** Features every asset produces (for manifests and the local API). */
  catalog(): Record<string, FeatureSpec[]> {
    return Object.fromEntries([...this.stages].map(([asset, s]) => [asset, s.features.catalog]));
  }

  /** Checks, without binding, that `model` can be served on every asset: throws ModelLoadError otherwise. */
  assertServable(model: LoadedModel): void {
    for (const [asset, stage] of this.stages) resolveInputs(asset, stage.features.catalog, model.manifest.inputs);
  }

  /** Cleaning counts since the last call, per channel. */
  takeQuality(): ChannelQuality[] {
    return [...this.stages.values()].flatMap((s) => s.cleaning.snapshot());
  }

  /** Model figures since the last call, per version that scored. */
  takeModelStats(): ModelStatsSnapshot[] {
    const end = this.deps.now();
    return [...this.stats.values()].map((s) => s.take(end)).filter((s) => s.inferences + s.errors > 0);
  }

  private bindAll(active: LoadedModel | undefined): void {
    this.lastActive = active;
    if (!active) return;
    for (const [asset, stage] of this.stages) {
      if (stage.bound.has(active)) continue;
      try {
        if (active.windowInputs && active.scoreWindows) this.bindRaw(stage, active);
        else {
          const inputs = resolveInputs(asset, stage.features.catalog, active.manifest.inputs);
          stage.features.bind(inputs, (ready) => this.score(active, ready));
        }
        stage.bound.set(active, true);
      } catch (err) {
        stage.bound.set(active, false);
        this.deps.onModelError(err, active.manifest.version);
      }
    }
  }

  /** Models with their own feature extraction get synchronized raw windows of their channels. */
  private bindRaw(stage: AssetStage, model: LoadedModel): void {
    const spec = model.windowInputs!;
    const known = new Set(stage.channels.map((c) => c.name));
    const channels = spec.channels.map((c) => (known.has(c) ? c : `${stage.asset}.${c}`));
    const missing = channels.filter((c) => !known.has(c));
    if (missing.length > 0) {
      throw new ModelLoadError(`model channels not present on asset ${stage.asset}: ${missing.join(', ')}`, {
        asset: stage.asset,
        missing,
      });
    }
    const ready: FeatureVectorReady = {
      asset: stage.asset,
      vector: new Float64Array(0),
      names: [],
      windowStartMs: 0,
      windowEndMs: 0,
      badFraction: 0,
    };
    const collector = new RawWindowCollector(channels, spec.length, spec.everyMs, (windows, startMs) => {
      ready.windowStartMs = startMs;
      ready.windowEndMs =
        startMs + (spec.length * 1000) / (stage.channels.find((c) => c.name === channels[0])?.sampleRateHz ?? 1);
      this.score(model, ready, windows);
    });
    stage.raw.set(model, collector);
  }

  private score(model: LoadedModel, ready: FeatureVectorReady, windows?: readonly Float64Array[]): void {
    if (this.deps.models.active() !== model) return; // a binding of a model that was switched out
    const m = model.manifest;
    const stats = this.statsFor(m.model, m.version);
    const t0 = performance.now();
    let result: ReturnType<LoadedModel['score']>;
    try {
      result = windows
        ? model.scoreWindows!(windows, ready.windowStartMs, 3)
        : model.score(ready.vector, 3, ready.windowEndMs);
    } catch (err) {
      stats.recordError();
      this.deps.models.observe?.(m.version, 0, 'unknown', err);
      this.deps.onModelError(err, m.version);
      return;
    }
    const latencyUs = Math.max(1, Math.round((performance.now() - t0) * 1000));
    stats.record(latencyUs, result.score, result.decision === 'alert');
    // The raw score only when the inputs were finite, so a NaN from good inputs counts as a model fault.
    this.deps.models.observe?.(
      m.version,
      latencyUs,
      result.decision,
      undefined,
      ready.badFraction < 1 && allFinite(ready.vector) ? result.score : undefined,
    );
    this.scoreShadow(stats, ready, result.decision);
    this.deps.onPrediction(
      {
        predictionId: `${this.deps.agentId}:${this.deps.bootId}:${++this.counter}`,
        asset: ready.asset,
        model: m.model,
        modelVersion: m.version,
        score: result.score,
        decision: result.decision,
        reasons: result.reasons,
        latencyUs,
        windowStartMs: ready.windowStartMs,
        windowEndMs: ready.windowEndMs,
        inputBadFraction: ready.badFraction,
      },
      { names: ready.names, values: ready.vector },
    );
  }

  private scoreShadow(
    stats: ModelStatsAccumulator,
    ready: FeatureVectorReady,
    decision: PredictionEvent['decision'],
  ): void {
    const shadow = this.deps.models.shadow();
    if (!shadow) return;
    try {
      // Same inputs, same order: a shadow must share the active model's input schema.
      const s = shadow.score(ready.vector, 0, ready.windowEndMs);
      stats.recordShadow(shadow.manifest.version, s.decision !== decision);
    } catch {
      stats.recordShadow(shadow.manifest.version, true);
    }
  }

  private statsFor(model: string, version: string): ModelStatsAccumulator {
    let s = this.stats.get(version);
    if (!s) {
      s = new ModelStatsAccumulator(model, version, this.deps.now());
      this.stats.set(version, s);
    }
    return s;
  }
}

/** Maps manifest inputs to this asset's feature names (full names win over asset-relative ones). */
export function resolveInputs(
  asset: string,
  catalog: readonly FeatureSpec[],
  inputs: readonly FeatureSpec[],
): FeatureSpec[] {
  const names = new Set(catalog.map((f) => f.name));
  const missing: string[] = [];
  const resolved = inputs.map((f) => {
    if (names.has(f.name)) return f;
    const relative = `${asset}.${f.name}`;
    if (names.has(relative)) return { name: relative, unit: f.unit };
    missing.push(f.name);
    return f;
  });
  if (missing.length > 0) {
    throw new ModelLoadError(`model inputs not produced on asset ${asset}: ${missing.join(', ')}`, { asset, missing });
  }
  return resolved;
}
