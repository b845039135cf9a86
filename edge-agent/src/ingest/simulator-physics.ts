import { Rng } from './prng.js';
import type { BearingFault, SimAsset } from './simulator-config.js';

const TWO_PI = 2 * Math.PI;
/** Heat takes minutes to reach the housing: temperatures follow the load of this long ago. */
const THERMAL_DELAY_S = 300;

/** Fault severity 0..1 at `tDegH` degradation hours: zero before onset, then an accelerating rise. */
export function faultSeverity(fault: BearingFault | null, tDegH: number): number {
  if (!fault || tDegH <= fault.onsetH) return 0;
  const x = (tDegH - fault.onsetH) / fault.progressionH;
  return Math.min(1, Math.expm1(3 * x) / Math.expm1(3));
}

function frac(x: number): number {
  return x - Math.floor(x);
}

/**
 * Clean physical signals of one asset: vibration (sequential, sample by sample, since the defect
 * impacts ring a resonator) and process values (pure functions of time plus sensor noise).
 */
export class AssetPhysics {
  private readonly fs: number;
  private readonly phase: readonly number[];
  private readonly noiseH: Rng;
  private readonly noiseV: Rng;
  private readonly impactRng: Rng;
  private readonly tempDeRng: Rng;
  private readonly tempNdeRng: Rng;
  private readonly currentRng: Rng;
  private readonly c1: number;
  private readonly c2: number;
  private readonly inputGain: number;
  private nextImpact: number;
  private yh1 = 0;
  private yh2 = 0;
  private yv1 = 0;
  private yv2 = 0;

  constructor(
    private readonly asset: SimAsset,
    seed: number,
  ) {
    this.fs = asset.vibrationRateHz;
    const phases = new Rng(seed, `${asset.name}/phases`);
    this.phase = Array.from({ length: 6 }, () => phases.next());
    this.noiseH = new Rng(seed, `${asset.name}/noise/vib_h`);
    this.noiseV = new Rng(seed, `${asset.name}/noise/vib_v`);
    this.impactRng = new Rng(seed, `${asset.name}/impacts`);
    this.tempDeRng = new Rng(seed, `${asset.name}/noise/temp_de`);
    this.tempNdeRng = new Rng(seed, `${asset.name}/noise/temp_nde`);
    this.currentRng = new Rng(seed, `${asset.name}/noise/current`);
    const f = asset.bearingFault;
    const r = Math.exp((-Math.PI * (f?.resonanceBandwidthHz ?? 400)) / this.fs);
    const w = (TWO_PI * Math.min(f?.resonanceHz ?? 3200, this.fs * 0.45)) / this.fs;
    this.c1 = 2 * r * Math.cos(w);
    this.c2 = r * r;
    // scales the resonator so a unit impulse rings with a peak near 1
    this.inputGain = Math.sin(w);
    this.nextImpact = this.impactPeriod() * this.phase[5]!;
  }

  /** Machine load 0.2..1 at `tS` seconds: slow production swings, no randomness. */
  load(tS: number): number {
    const l =
      0.75 +
      0.12 * Math.sin(TWO_PI * (tS / 2700 + this.phase[3]!)) +
      0.06 * Math.sin(TWO_PI * (tS / 437 + this.phase[4]!));
    return Math.min(1, Math.max(0.2, l));
  }

  /**
   * Fills `n` vibration samples of both axes starting at sample index `n0`.
   * Must be called with consecutive ranges: the resonator and impact schedule carry state.
   */
  fillVibration(n0: number, n: number, severity: number, outH: Float64Array, outV: Float64Array): void {
    const a = this.asset;
    const shaftPerSample = a.shaftHz / this.fs;
    const sigma = a.vibrationNoiseG * (1 + 2 * severity * severity);
    const unbalance = a.unbalanceG * (1 + 0.5 * severity);
    for (let i = 0; i < n; i++) {
      const s = (n0 + i) * shaftPerSample;
      const impulse = this.impulseAt(n0 + i, s, severity);
      const yh = this.c1 * this.yh1 - this.c2 * this.yh2 + impulse;
      const yv = this.c1 * this.yv1 - this.c2 * this.yv2 + 0.6 * impulse;
      this.yh2 = this.yh1;
      this.yh1 = yh;
      this.yv2 = this.yv1;
      this.yv1 = yv;
      const h1 = Math.sin(TWO_PI * frac(s + this.phase[0]!));
      const v1 = Math.cos(TWO_PI * frac(s + this.phase[0]!));
      const x2 = Math.sin(TWO_PI * frac(2 * s + this.phase[1]!));
      const x5 = Math.sin(TWO_PI * frac(5 * s + this.phase[2]!));
      outH[i] = unbalance * h1 + 0.3 * unbalance * x2 + 0.05 * x5 + sigma * this.noiseH.normal() + yh;
      outV[i] = 0.8 * unbalance * v1 + 0.2 * unbalance * x2 + 0.04 * x5 + sigma * this.noiseV.normal() + yv;
    }
  }

  /** Bearing housing temperature, degC; `driveEnd` runs hotter and sees more of the defect's heat. */
  temperature(tS: number, severity: number, driveEnd: boolean): number {
    const a = this.asset;
    const ambient = a.ambientC + 3 * Math.sin(TWO_PI * (tS / 86_400 + this.phase[3]!));
    const rise = (driveEnd ? 20 : 16) * this.load(tS - THERMAL_DELAY_S);
    const fault = (a.bearingFault?.temperatureRiseC ?? 0) * severity * (driveEnd ? 1 : 0.35);
    return ambient + rise + fault + 0.05 * (driveEnd ? this.tempDeRng : this.tempNdeRng).normal();
  }

  /** Motor current (RMS), A. */
  current(tS: number, severity: number): number {
    const a = this.asset;
    return a.ratedCurrentA * (0.35 + 0.6 * this.load(tS)) * (1 + 0.05 * severity) + 0.08 * this.currentRng.normal();
  }

  private impactPeriod(): number {
    const f = this.asset.bearingFault;
    return this.fs / (this.asset.shaftHz * (f?.defectOrder ?? 3.5848));
  }

  private impulseAt(n: number, shaftTurns: number, severity: number): number {
    if (n < this.nextImpact) return 0;
    const f = this.asset.bearingFault;
    const jitter = 1 + ((f?.slipPct ?? 0) / 100) * this.impactRng.normal();
    this.nextImpact += this.impactPeriod() * Math.max(0.5, jitter);
    const u = this.impactRng.next();
    if (!f || severity <= 0) return 0;
    const am = 1 + f.amDepth * Math.cos(TWO_PI * frac(shaftTurns));
    return this.inputGain * severity * f.maxImpactG * am * (0.85 + 0.3 * u);
  }
}
