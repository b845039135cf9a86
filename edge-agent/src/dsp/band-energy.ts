/**
 * Spectral band energies of real windows, scaled so that (Parseval) the energies of bands tiling
 * [0, fs/2] add up to the window's mean square. Preallocated: one instance per window size,
 * sample rate and band list; `compute` allocates nothing.
 */
import { RealFft } from './fft.js';

/** A frequency band [lowHz, highHz): a bin belongs to it when lowHz <= f < highHz. */
export interface Band {
  lowHz: number;
  highHz: number;
}

/** Smallest power of two >= n. */
export function nextPowerOfTwo(n: number): number {
  let p = 2;
  while (p < n) p *= 2;
  return p;
}

export class BandEnergies {
  readonly fftSize: number;
  readonly windowSize: number;
  private readonly fft: RealFft;
  private readonly buf: Float64Array;
  /** Bin range [first, last) per band. */
  private readonly first: Int32Array;
  private readonly last: Int32Array;

  /** The FFT size is the next power of two >= `windowSize`; shorter windows are zero-padded. */
  constructor(windowSize: number, sampleRateHz: number, bands: readonly Band[]) {
    this.windowSize = windowSize;
    this.fftSize = nextPowerOfTwo(windowSize);
    this.fft = new RealFft(this.fftSize);
    this.buf = new Float64Array(this.fftSize);
    this.first = new Int32Array(bands.length);
    this.last = new Int32Array(bands.length);
    const binHz = sampleRateHz / this.fftSize;
    const nyquistBin = this.fftSize / 2;
    bands.forEach((b, i) => {
      this.first[i] = Math.min(nyquistBin + 1, Math.max(0, Math.ceil(b.lowHz / binHz)));
      this.last[i] = Math.min(nyquistBin + 1, Math.max(0, Math.ceil(b.highHz / binHz)));
    });
  }

  /** The scratch array `compute` transforms: callers write the window into its first `windowSize` entries. */
  get input(): Float64Array {
    return this.buf;
  }

  /**
   * Transforms `input` (entries past `windowSize` are zeroed here) and writes each band's share of
   * the mean square into `out[offset + band]`. `divisor` is the number of samples the mean square is
   * taken over: `windowSize`, or the count of good samples when the others were zeroed.
   */
  compute(divisor: number, out: Float64Array, offset: number): void {
    const n = this.fftSize;
    this.buf.fill(0, this.windowSize);
    this.fft.transform(this.buf);
    const re = this.fft.re;
    const im = this.fft.im;
    const scale = 1 / (n * divisor);
    const nyquist = n / 2;
    for (let b = 0; b < this.first.length; b++) {
      let e = 0;
      const end = this.last[b]!;
      for (let k = this.first[b]!; k < end; k++) {
        const p = re[k]! * re[k]! + im[k]! * im[k]!;
        e += k === 0 || k === nyquist ? p : 2 * p;
      }
      out[offset + b] = e * scale;
    }
  }
}
