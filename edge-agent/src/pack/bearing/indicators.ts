import { Fft } from '../../dsp/fft.js';
import { EnvelopeSpectrum } from './envelope.js';
import { type BearingGeometry, DEFECT_KINDS, defectFrequencies } from './geometry.js';
import { medianInPlace } from './select.js';

/** How health indicators are computed from one vibration window. */
export interface IndicatorConfig {
  sampleRateHz: number;
  /** FFT size (power of two); shorter windows are zero-padded, longer ones truncated. */
  fftSize: number;
  /** Spectral bands [lowHz, highHz) whose energy is an indicator each. */
  bandsHz: [number, number][];
  /** Band demodulated for the envelope: a resonance band, or simply a high band. */
  envelopeBandHz: [number, number];
  /** Envelope-spectrum range whose median is the background the defect lines are compared with. */
  envelopeBackgroundHz: [number, number];
  /** Harmonics of each defect frequency summed into its indicator (1 = fundamental only). */
  harmonics: number;
  /** Half-width of each defect line search, as a fraction of the line frequency (speed error, slip). */
  defectTolerance: number;
  geometry: BearingGeometry;
}

export interface IndicatorSpec {
  name: string;
  unit: string;
  /** Technician wording, e.g. "kurtosis", "envelope energy at BPFO". */
  label: string;
}

/** Indicator names in output order: rms, peak, crest, kurtosis, bands..., env_ftf, env_bpfo, env_bpfi, env_bsf. */
export function indicatorSpecs(c: IndicatorConfig): IndicatorSpec[] {
  const specs: IndicatorSpec[] = [
    { name: 'rms', unit: 'g', label: 'RMS' },
    { name: 'peak', unit: 'g', label: 'peak' },
    { name: 'crest', unit: '1', label: 'crest factor' },
    { name: 'kurtosis', unit: '1', label: 'kurtosis' },
  ];
  for (const [lo, hi] of c.bandsHz) {
    specs.push({ name: `band_${lo}_${hi}`, unit: 'g2', label: `band ${khz(lo)}-${khz(hi)} kHz energy` });
  }
  for (const d of DEFECT_KINDS)
    specs.push({ name: `env_${d}`, unit: '1', label: `envelope energy at ${d.toUpperCase()}` });
  return specs;
}

function khz(hz: number): string {
  return String(Math.round(hz / 100) / 10);
}

/**
 * Computes the indicators of one window into a caller-owned array. One instance per channel;
 * every buffer is allocated in the constructor.
 */
export class IndicatorExtractor {
  readonly count: number;
  private readonly config: IndicatorConfig;
  private readonly fft: Fft;
  private readonly envelope: EnvelopeSpectrum;
  private readonly re: Float64Array;
  private readonly im: Float64Array;
  private readonly scratch: Float64Array;
  private readonly bandBins: Int32Array;
  private readonly binHz: number;

  constructor(config: IndicatorConfig) {
    this.config = config;
    this.count = indicatorSpecs(config).length;
    this.fft = new Fft(config.fftSize);
    this.envelope = new EnvelopeSpectrum(config.fftSize, config.sampleRateHz, config.envelopeBandHz);
    this.re = new Float64Array(config.fftSize);
    this.im = new Float64Array(config.fftSize);
    this.scratch = new Float64Array(config.fftSize / 2 + 1);
    this.binHz = config.sampleRateHz / config.fftSize;
    this.bandBins = new Int32Array(config.bandsHz.length * 2);
    config.bandsHz.forEach(([lo, hi], i) => {
      this.bandBins[2 * i] = Math.max(1, Math.ceil(lo / this.binHz));
      this.bandBins[2 * i + 1] = Math.min(config.fftSize / 2 + 1, Math.ceil(hi / this.binHz));
    });
  }

  /**
   * Reads `length` samples at `offset + i * stride` of `src`, writes `count` indicators to
   * `out[outOffset..]`. `shaftHz` is the current shaft speed (defect lines scale with it).
   */
  compute(
    src: ArrayLike<number>,
    offset: number,
    stride: number,
    length: number,
    shaftHz: number,
    out: Float64Array,
    outOffset = 0,
  ): void {
    const n = Math.min(length, this.config.fftSize);
    let o = this.timeDomain(src, offset, stride, n, out, outOffset);
    o = this.bandEnergies(n, out, o);
    this.defectEnergies(src, offset, stride, n, shaftHz, out, o);
  }

  /** RMS, peak, crest, kurtosis of the mean-removed window; also loads it into the FFT buffers. */
  private timeDomain(src: ArrayLike<number>, offset: number, stride: number, n: number, out: Float64Array, o: number) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += src[offset + i * stride]!;
    mean /= n;
    let m2 = 0;
    let m4 = 0;
    let peak = 0;
    for (let i = 0; i < this.config.fftSize; i++) {
      const x = i < n ? src[offset + i * stride]! - mean : 0;
      this.re[i] = x;
      this.im[i] = 0;
      const x2 = x * x;
      m2 += x2;
      m4 += x2 * x2;
      if (Math.abs(x) > peak) peak = Math.abs(x);
    }
    m2 /= n;
    m4 /= n;
    const rms = Math.sqrt(m2);
    out[o] = rms;
    out[o + 1] = peak;
    out[o + 2] = rms > 0 ? peak / rms : Number.NaN;
    out[o + 3] = m2 > 0 ? m4 / (m2 * m2) : Number.NaN;
    return o + 4;
  }

  /** Band energy as mean-square acceleration in the band (Parseval, one-sided). */
  private bandEnergies(n: number, out: Float64Array, o: number): number {
    this.fft.transform(this.re, this.im);
    const norm = 2 / (n * this.config.fftSize);
    for (let b = 0; b < this.config.bandsHz.length; b++) {
      let e = 0;
      for (let k = this.bandBins[2 * b]!; k < this.bandBins[2 * b + 1]!; k++) {
        e += this.re[k]! * this.re[k]! + this.im[k]! * this.im[k]!;
      }
      out[o + b] = e * norm;
    }
    return o + this.config.bandsHz.length;
  }

  /** Peak envelope power near each defect line and its harmonics, over the envelope background. */
  private defectEnergies(
    src: ArrayLike<number>,
    offset: number,
    stride: number,
    n: number,
    shaftHz: number,
    out: Float64Array,
    o: number,
  ): void {
    const power = this.envelope.compute(src, offset, stride, n);
    const background = this.background(power);
    const freqs = defectFrequencies(this.config.geometry, shaftHz);
    for (let d = 0; d < DEFECT_KINDS.length; d++) {
      const f = freqs[DEFECT_KINDS[d]!];
      let sum = 0;
      for (let h = 1; h <= this.config.harmonics; h++) sum += this.linePower(power, h * f);
      out[o + d] = sum / (this.config.harmonics * background);
    }
  }

  private linePower(power: Float64Array, hz: number): number {
    const half = Math.max(1, Math.round((hz * this.config.defectTolerance) / this.binHz));
    const centre = Math.round(hz / this.binHz);
    let best = 0;
    for (let k = Math.max(1, centre - half); k <= Math.min(power.length - 1, centre + half); k++) {
      if (power[k]! > best) best = power[k]!;
    }
    return best;
  }

  private background(power: Float64Array): number {
    const [lo, hi] = this.config.envelopeBackgroundHz;
    const from = Math.max(1, Math.round(lo / this.binHz));
    const to = Math.min(power.length, Math.round(hi / this.binHz) + 1);
    for (let k = from; k < to; k++) this.scratch[k - from] = power[k]!;
    const med = medianInPlace(this.scratch, 0, to - from);
    return med > 0 ? med : Number.MIN_VALUE;
  }
}
