import { Fft } from '../../dsp/fft.js';

/**
 * Band-passed Hilbert envelope and its power spectrum, all in preallocated buffers.
 * Bearing impacts ring a structural resonance; demodulating that band exposes the impact rate
 * (the defect frequency) that the raw spectrum hides under shaft harmonics.
 */
export class EnvelopeSpectrum {
  readonly size: number;
  readonly binHz: number;
  /** One-sided power of the mean-removed envelope, bins 0..size/2. */
  readonly power: Float64Array;
  private readonly fft: Fft;
  private readonly re: Float64Array;
  private readonly im: Float64Array;
  private readonly lowBin: number;
  private readonly highBin: number;

  constructor(size: number, sampleRateHz: number, bandHz: readonly [number, number]) {
    this.fft = new Fft(size);
    this.size = size;
    this.binHz = sampleRateHz / size;
    this.power = new Float64Array(size / 2 + 1);
    this.re = new Float64Array(size);
    this.im = new Float64Array(size);
    this.lowBin = Math.max(1, Math.round(bandHz[0] / this.binHz));
    this.highBin = Math.min(size / 2 - 1, Math.round(bandHz[1] / this.binHz));
  }

  /**
   * Computes the envelope spectrum of `length` samples read from `src` at `offset + i * stride`
   * (interleaved channels need no copy). Zero-pads to `size`.
   */
  compute(src: ArrayLike<number>, offset: number, stride: number, length: number): Float64Array {
    const n = Math.min(length, this.size);
    this.loadDemeaned(src, offset, stride, n);
    this.fft.transform(this.re, this.im);
    this.keepBandAsAnalytic();
    this.inverseToMagnitude(n);
    this.fft.powerSpectrum(this.re, this.re, this.im, this.power);
    return this.power;
  }

  private loadDemeaned(src: ArrayLike<number>, offset: number, stride: number, n: number): void {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += src[offset + i * stride]!;
    mean /= n;
    for (let i = 0; i < this.size; i++) {
      this.re[i] = i < n ? src[offset + i * stride]! - mean : 0;
      this.im[i] = 0;
    }
  }

  /** Zeroes negative frequencies and everything outside the band; doubles the band (analytic signal). */
  private keepBandAsAnalytic(): void {
    for (let k = 0; k < this.size; k++) {
      const inBand = k >= this.lowBin && k <= this.highBin;
      this.re[k] = inBand ? 2 * this.re[k]! : 0;
      this.im[k] = inBand ? 2 * this.im[k]! : 0;
    }
  }

  /** Inverse FFT by conjugation, then |analytic| minus its mean over the first `n` samples. */
  private inverseToMagnitude(n: number): void {
    for (let k = 0; k < this.size; k++) this.im[k] = -this.im[k]!;
    this.fft.transform(this.re, this.im);
    const scale = 1 / this.size;
    let mean = 0;
    for (let i = 0; i < n; i++) {
      const m = Math.hypot(this.re[i]!, this.im[i]!) * scale;
      this.re[i] = m;
      mean += m;
    }
    mean /= n;
    for (let i = 0; i < this.size; i++) this.re[i] = i < n ? this.re[i]! - mean : 0;
  }
}
