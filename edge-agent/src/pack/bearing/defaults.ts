import { ARTIFACT_FORMAT, type BearingHealthArtifact } from './artifact.js';
import type { BearingGeometry } from './geometry.js';
import type { IndicatorConfig } from './indicators.js';

/** Smallest power of two >= n. */
export function nextPow2(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(2, n)));
}

/**
 * Indicator settings for a sensor: octave-like bands up to Nyquist, envelope of the upper third
 * of the spectrum (where bearing impacts excite resonances in most housings).
 */
export function defaultIndicatorConfig(
  sampleRateHz: number,
  windowLength: number,
  geometry: BearingGeometry,
): IndicatorConfig {
  const nyq = sampleRateHz / 2;
  const edges = [0, 1000, 2000, 4000, 8000].filter((e) => e < nyq);
  const bandsHz = edges.map((lo, i): [number, number] => [lo, edges[i + 1] ?? nyq]);
  return {
    sampleRateHz,
    fftSize: nextPow2(windowLength),
    bandsHz,
    envelopeBandHz: [Math.min(2000, nyq / 3), Math.min(10_000, nyq * 0.9)],
    envelopeBackgroundHz: [5, 1000],
    harmonics: 3,
    defectTolerance: 0.03,
    geometry,
  };
}

export interface DefaultArtifactInput {
  channels: string[];
  shaftHz: number;
  indicators: IndicatorConfig;
}

/**
 * Pack defaults. The alarm follows the highest spectral band (where bearing impacts excite the
 * housing's resonances), fused over the machine's accelerometers; every indicator still explains it.
 * Global hyperparameters (commissioning 10 min, scale floor, threshold, k-of-n, hold-off) were
 * chosen on the FEMTO learning set through the agent's pipeline; see docs/PLANT-EVALUATION.md.
 */
export function defaultArtifact(input: DefaultArtifactInput): BearingHealthArtifact {
  const dims = input.channels.length * (8 + input.indicators.bandsHz.length);
  const top = input.indicators.bandsHz.at(-1);
  return {
    format: ARTIFACT_FORMAT,
    channels: input.channels,
    shaftHz: input.shaftHz,
    indicators: input.indicators,
    commissioning: { durationS: 600, minWindows: 5, maxWindows: 1024 },
    scoring: {
      minLogScale: 0.2,
      topM: 1,
      threshold: 4,
      defectFirstMinZ: 3,
      ...(top ? { alarmIndicators: [`band_${top[0]}_${top[1]}`], fuseChannels: true } : {}),
    },
    alarm: { k: 3, n: 3, holdOffS: 1800 },
    prior: { median: new Array(dims).fill(0), scale: new Array(dims).fill(1) },
  };
}
