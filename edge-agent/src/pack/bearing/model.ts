import { ModelLoadError } from '../../domain/errors.js';
import type { FeatureSpec, ModelManifest, Reason, ScoreResult, SelfTestVector } from '../../domain/model.js';
import type { LoadedModel, SelfTestOutcome, WindowInputs } from '../../inference/runtime.js';

/** FEMTO's snapshot length (0.1 s at 25.6 kHz), what the pack was evaluated on. */
const DEFAULT_WINDOW_LENGTH = 2560;

import { type AlarmState, PersistenceAlarm } from './alarm.js';
import {
  type AlarmSelection,
  alarmBaselineFrom,
  alarmValues,
  alarmWidth,
  fitAlarmBaseline,
  selectAlarmInputs,
} from './alarm-score.js';
import { type BearingHealthArtifact, parseArtifact } from './artifact.js';
import { CommissioningBuffer, type RobustBaseline, safeLog } from './baseline.js';
import { IndicatorExtractor, indicatorSpecs } from './indicators.js';
import { toReason } from './reasons.js';
import { selectInPlace } from './select.js';

export type Phase = 'commissioning' | 'monitoring';

/** Everything a machine has learnt; JSON-serialisable so calibration survives agent restarts. */
export interface BearingHealthState {
  stateVersion: 1;
  model: string;
  /** Input names the state was learnt on; import refuses a state for different inputs. */
  inputs: string[];
  phase: Phase;
  startedAtMs: number | null;
  /** Log-indicator rows collected so far (commissioning only). */
  commissioning: number[][];
  baseline: RobustBaseline | null;
  alarm: AlarmState;
}

interface InputMeta {
  name: string;
  unit: string;
  label: string;
}

/** Manifest inputs for an artifact: `<channel>.<indicator>` for every channel. */
export function artifactInputs(a: BearingHealthArtifact): InputMeta[] {
  const specs = indicatorSpecs(a.indicators);
  return a.channels.flatMap((ch) =>
    specs.map((s) => ({
      name: `${ch}.${s.name}`,
      unit: s.unit,
      label: a.channels.length > 1 ? `${ch} ${s.label}` : s.label,
    })),
  );
}

export interface BearingHealthOptions {
  /** Clock for `score()`; `scoreAt()` takes the window time explicitly. @default Date.now */
  now?: () => number;
}

/**
 * Self-calibrating bearing health model for ONE machine. Stateful: the first windows (commissioning)
 * build the machine's own robust baseline; later windows are scored against it and drive a k-of-n
 * alarm with hold-off. One instance per machine; persist `exportState()` and `importState()` it after
 * a restart so the agent never re-commissions a machine that may already be degrading.
 */
export class BearingHealthModel implements LoadedModel {
  readonly manifest: ModelManifest;
  readonly artifact: BearingHealthArtifact;
  private readonly inputs: InputMeta[];
  private readonly now: () => number;
  private readonly buffer: CommissioningBuffer;
  private readonly alarm: PersistenceAlarm;
  private readonly z: Float64Array;
  private readonly isDefect: boolean[];
  /** Per channel: input index of its FTF and BSF envelope indicators (ball-vs-cage attribution). */
  private readonly cagePairs: [number, number][];
  private readonly alarmInputs: AlarmSelection;
  private readonly alarmPrior: RobustBaseline;
  private readonly av: Float64Array;
  private readonly az: Float64Array;
  private phase: Phase = 'commissioning';
  private extractors: IndicatorExtractor[] | undefined;
  private indicators: Float64Array | undefined;
  private startedAtMs: number | null = null;
  private baseline: RobustBaseline | null = null;

  constructor(manifest: ModelManifest, artifact: BearingHealthArtifact, options: BearingHealthOptions = {}) {
    this.manifest = manifest;
    this.artifact = artifact;
    this.inputs = artifactInputs(artifact);
    checkInputs(manifest, artifact, this.inputs);
    this.now = options.now ?? Date.now;
    this.buffer = new CommissioningBuffer(artifact.commissioning.maxWindows, this.inputs.length);
    this.alarm = new PersistenceAlarm(artifact.alarm);
    this.z = new Float64Array(this.inputs.length);
    this.isDefect = this.inputs.map((i) => i.name.includes('.env_'));
    const specs = indicatorSpecs(artifact.indicators).map((x) => x.name);
    this.cagePairs = artifact.channels.map((_, c): [number, number] => [
      c * specs.length + specs.indexOf('env_ftf'),
      c * specs.length + specs.indexOf('env_bsf'),
    ]);
    const sc = artifact.scoring;
    this.alarmInputs = selectAlarmInputs(artifact.channels.length, specs, sc.alarmIndicators, sc.fuseChannels ?? false);
    this.alarmPrior = alarmBaselineFrom(this.alarmInputs, artifact.prior);
    this.av = new Float64Array(alarmWidth(this.alarmInputs));
    this.az = new Float64Array(this.av.length);
  }

  get currentPhase(): Phase {
    return this.phase;
  }

  /** Scores each vector against the fleet prior: test vectors never enter this machine's baseline. */
  selfTest(vectors: readonly SelfTestVector[]): SelfTestOutcome {
    const failures: string[] = [];
    vectors.forEach((v, i) => {
      const got = this.scoreAgainstPrior(Float64Array.from(v.inputs)).score;
      if (!(Math.abs(got - v.expectedScore) <= v.tolerance)) {
        failures.push(`vector ${i}: expected ${v.expectedScore}, got ${got}, tolerance ${v.tolerance}`);
      }
    });
    return { passed: failures.length === 0, failures };
  }

  /** The raw windows this model computes its indicators from (see LoadedModel.windowInputs). */
  get windowInputs(): WindowInputs {
    const w = this.artifact.window;
    return {
      channels: this.artifact.channels,
      length: w?.length ?? DEFAULT_WINDOW_LENGTH,
      everyMs: (w?.everyS ?? 10) * 1000,
    };
  }

  /** Computes the indicators of one synchronized window per channel and scores them at `tMs`. */
  scoreWindows(windows: readonly Float64Array[], tMs: number, topK = 3): ScoreResult {
    this.extractors ??= this.artifact.channels.map(() => new IndicatorExtractor(this.artifact.indicators));
    const per = this.extractors[0]!.count;
    this.indicators ??= new Float64Array(per * this.extractors.length);
    for (let i = 0; i < this.extractors.length; i++) {
      const w = windows[i]!;
      this.extractors[i]!.compute(w, 0, 1, w.length, this.artifact.shaftHz, this.indicators, i * per);
    }
    return this.scoreAt(this.indicators, tMs, topK);
  }

  /** Scores one window of indicators (manifest input order); `tMs` defaults to the injected clock. */
  score(inputs: Float64Array, topK = 3, tMs?: number): ScoreResult {
    return this.scoreAt(inputs, tMs ?? this.now(), topK);
  }

  /**
   * Scores one window taken at `tMs` and advances the machine's state: commissioning windows join
   * the baseline (decision 'unknown', scored against the fleet prior); later ones drive the alarm.
   */
  scoreAt(inputs: Float64Array, tMs: number, topK = 3): ScoreResult {
    if (!allFinite(inputs)) return { score: Number.NaN, decision: 'unknown', reasons: [] };
    if (this.phase === 'commissioning') this.commission(inputs, tMs);
    if (this.phase === 'commissioning')
      return { ...this.evaluate(inputs, this.artifact.prior, topK, this.alarmPrior), decision: 'unknown' };
    const result = this.evaluate(inputs, this.baseline!, topK);
    const active = this.alarm.update(result.score >= this.artifact.scoring.threshold, tMs);
    return { ...result, decision: active ? 'alert' : 'normal' };
  }

  /** Pure scoring against the fleet prior: what the manifest's self-test vectors check. */
  scoreAgainstPrior(inputs: Float64Array, topK = 3): ScoreResult {
    const r = this.evaluate(inputs, this.artifact.prior, topK, this.alarmPrior);
    return { ...r, decision: r.score >= this.artifact.scoring.threshold ? 'alert' : 'normal' };
  }

  /** The machine's learnt baseline, once commissioning ended. */
  get machineBaseline(): RobustBaseline | null {
    return this.baseline;
  }

  /** Start time of the active alarm, or null. */
  get alarmSince(): number | null {
    return this.alarm.since;
  }

  private commission(inputs: Float64Array, tMs: number): void {
    this.startedAtMs ??= tMs;
    const c = this.artifact.commissioning;
    const expired = tMs - this.startedAtMs > c.durationS * 1000 && this.buffer.count >= c.minWindows;
    if (expired || this.buffer.full) {
      const minScale = this.artifact.scoring.minLogScale;
      this.baseline = {
        ...this.buffer.fit(minScale),
        alarm: fitAlarmBaseline(this.alarmInputs, this.buffer.rows(), minScale),
      };
      this.phase = 'monitoring';
      return;
    }
    this.buffer.add(inputs);
  }

  /**
   * Robust positive z of every input (for reasons) and the score: RMS of the `topM` largest
   * positive z of the alarm indicators against `alarm` (the alarm part of the baseline).
   */
  private evaluate(
    inputs: Float64Array,
    b: RobustBaseline,
    topK: number,
    alarm: RobustBaseline = b.alarm ?? alarmBaselineFrom(this.alarmInputs, b),
  ): Omit<ScoreResult, 'decision'> {
    for (let i = 0; i < this.z.length; i++) this.z[i] = Math.max((safeLog(inputs[i]!) - b.median[i]!) / b.scale[i]!, 0);
    alarmValues(this.alarmInputs, inputs, this.av);
    for (let a = 0; a < this.av.length; a++) {
      this.az[a] = -Math.max((this.av[a]! - alarm.median[a]!) / alarm.scale[a]!, 0);
    }
    const m = Math.min(this.artifact.scoring.topM, this.az.length);
    selectInPlace(this.az, 0, this.az.length, m - 1);
    let sum = 0;
    for (let i = 0; i < m; i++) sum += this.az[i]! * this.az[i]!;
    return { score: Math.sqrt(sum / m), reasons: this.reasons(inputs, b, topK) };
  }

  /**
   * Largest deviations first; defect lines with z >= defectFirstMinZ ahead of generic indicators.
   * A ball defect's impacts are carried in and out of the load zone by the cage, so its envelope
   * shows the cage rate (FTF) beside the ball line (BSF): when both lines moved on a channel, the
   * reason names the ball, and FTF alone (a cage fault) still names the cage.
   */
  private reasons(inputs: Float64Array, b: RobustBaseline, topK: number): Reason[] {
    if (topK <= 0) return [];
    const minZ = this.artifact.scoring.defectFirstMinZ;
    const rank = Array.from(this.z, (z, i) => z + (this.isDefect[i] && z >= minZ ? 1e9 : 0));
    for (const [ftf, bsf] of this.cagePairs) {
      if (this.z[ftf]! >= minZ && this.z[bsf]! >= minZ) rank[bsf] = Math.max(rank[bsf]!, rank[ftf]! + 1e-6);
    }
    const order = Array.from(this.z.keys()).sort((i, j) => rank[j]! - rank[i]!);
    return order.slice(0, topK).map((i) => {
      const meta = this.inputs[i]!;
      return toReason({
        ...meta,
        feature: meta.name,
        value: inputs[i]!,
        baseline: Math.exp(b.median[i]!),
        contribution: this.z[i]!,
      });
    });
  }

  exportState(): BearingHealthState {
    return {
      stateVersion: 1,
      model: this.manifest.model,
      inputs: this.inputs.map((i) => i.name),
      phase: this.phase,
      startedAtMs: this.startedAtMs,
      commissioning: this.phase === 'commissioning' ? this.buffer.rows() : [],
      baseline: this.baseline,
      alarm: this.alarm.exportState(),
    };
  }

  /** @throws ModelLoadError when the state was learnt for other inputs. */
  importState(s: BearingHealthState): void {
    const names = this.inputs.map((i) => i.name);
    if (s.stateVersion !== 1 || s.inputs.join('|') !== names.join('|')) {
      throw new ModelLoadError('bearing_health state does not match this model', { model: s.model, inputs: s.inputs });
    }
    if (s.phase === 'monitoring' && s.baseline === null) throw new ModelLoadError('monitoring state without baseline');
    this.phase = s.phase;
    this.startedAtMs = s.startedAtMs;
    // States saved before alarm statistics existed get them from the per-input baseline.
    this.baseline = s.baseline && {
      ...s.baseline,
      alarm: s.baseline.alarm ?? alarmBaselineFrom(this.alarmInputs, s.baseline),
    };
    this.buffer.restore(s.commissioning);
    this.alarm.importState(s.alarm);
  }

  dispose(): void {}
}

function allFinite(x: Float64Array): boolean {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i]!)) return false;
  return true;
}

function checkInputs(manifest: ModelManifest, a: BearingHealthArtifact, inputs: InputMeta[]): void {
  const want = inputs.map((i) => i.name).join('|');
  const got = manifest.inputs.map((f: FeatureSpec) => f.name).join('|');
  const issues: string[] = [];
  if (manifest.runtime !== 'bearing_health') issues.push(`runtime is ${manifest.runtime}, expected bearing_health`);
  if (want !== got) issues.push(`manifest inputs [${got}] differ from artifact inputs [${want}]`);
  const known = new Set(indicatorSpecs(a.indicators).map((x) => x.name));
  const unknown = (a.scoring.alarmIndicators ?? []).filter((n) => !known.has(n));
  if (unknown.length > 0) issues.push(`alarm indicators [${unknown.join(', ')}] are not indicators of this artifact`);
  if (a.prior.median.length !== inputs.length || a.prior.scale.length !== inputs.length) {
    issues.push(`prior has ${a.prior.median.length} medians for ${inputs.length} inputs`);
  }
  if (issues.length > 0) throw new ModelLoadError('bearing_health manifest and artifact disagree', { issues });
}

/**
 * Runtime loader for `bearing_health`: the registry calls it with the manifest and artifact bytes.
 * @throws ModelLoadError on a malformed artifact or a manifest that does not match it.
 */
export function loadBearingHealth(
  manifest: ModelManifest,
  artifactBytes: Uint8Array,
  options: BearingHealthOptions = {},
): BearingHealthModel {
  return new BearingHealthModel(manifest, parseArtifact(artifactBytes), options);
}
