/**
 * In-place radix-2 complex FFT over preallocated typed arrays: no allocation per call.
 * Create one `Fft` per window size and reuse it.
 */
export class Fft {
  readonly size: number;
  private readonly cos: Float64Array;
  private readonly sin: Float64Array;
  private readonly rev: Uint32Array;

  constructor(size: number) {
    if (size < 2 || (size & (size - 1)) !== 0) throw new RangeError(`FFT size must be a power of two, got ${size}`);
    this.size = size;
    this.cos = new Float64Array(size / 2);
    this.sin = new Float64Array(size / 2);
    for (let i = 0; i < size / 2; i++) {
      this.cos[i] = Math.cos((-2 * Math.PI * i) / size);
      this.sin[i] = Math.sin((-2 * Math.PI * i) / size);
    }
    this.rev = new Uint32Array(size);
    const bits = Math.log2(size);
    for (let i = 0; i < size; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >>> b) & 1) << (bits - 1 - b);
      this.rev[i] = r;
    }
  }

  /** Forward transform of (re, im) in place. Both arrays must have length `size`. */
  transform(re: Float64Array, im: Float64Array): void {
    const n = this.size;
    const rev = this.rev;
    for (let i = 0; i < n; i++) {
      const j = rev[i]!;
      if (j > i) {
        const tr = re[i]!;
        re[i] = re[j]!;
        re[j] = tr;
        const ti = im[i]!;
        im[i] = im[j]!;
        im[j] = ti;
      }
    }
    for (let len = 2; len <= n; len <<= 1) {
      const half = len >>> 1;
      const step = n / len;
      for (let start = 0; start < n; start += len) {
        for (let k = 0; k < half; k++) {
          const wr = this.cos[k * step]!;
          const wi = this.sin[k * step]!;
          const a = start + k;
          const b = a + half;
          const xr = re[b]! * wr - im[b]! * wi;
          const xi = re[b]! * wi + im[b]! * wr;
          re[b] = re[a]! - xr;
          im[b] = im[a]! - xi;
          re[a] = re[a]! + xr;
          im[a] = im[a]! + xi;
        }
      }
    }
  }

  /**
   * One-sided power spectrum |X_k|^2 / n^2 for k in [0, n/2] of a real signal, written to `out`
   * (length n/2 + 1). `re` and `im` are scratch arrays of length n; `re` is overwritten.
   */
  powerSpectrum(signal: ArrayLike<number>, re: Float64Array, im: Float64Array, out: Float64Array): void {
    const n = this.size;
    for (let i = 0; i < n; i++) {
      re[i] = signal[i] ?? 0;
      im[i] = 0;
    }
    this.transform(re, im);
    const norm = 1 / (n * n);
    for (let k = 0; k <= n / 2; k++) out[k] = (re[k]! * re[k]! + im[k]! * im[k]!) * norm;
  }
}

/**
 * Forward FFT of a real signal of power-of-two length n through one complex FFT of n/2 points
 * (even samples as real part, odd as imaginary) and an O(n) split: about half the work of a
 * complex transform with a zero imaginary part. Stage twiddles are stored contiguously per
 * stage, and the first two stages (twiddles 1 and -i) are specialised. Preallocated: no
 * allocation per call.
 */
export class RealFft {
  readonly size: number;
  /** Real and imaginary parts of bins 0..n/2 after `transform`. */
  readonly re: Float64Array;
  readonly im: Float64Array;
  private readonly half: number;
  private readonly rev: Uint32Array;
  /** Twiddle e^{-2 pi i k / (2H)} of the stage with half-length H at index H + k. */
  private readonly twRe: Float64Array;
  private readonly twIm: Float64Array;
  /** Split twiddles e^{-2 pi i k / n}, k in [0, n/2]. */
  private readonly spRe: Float64Array;
  private readonly spIm: Float64Array;
  private readonly zr: Float64Array;
  private readonly zi: Float64Array;

  constructor(size: number) {
    if (size < 2 || (size & (size - 1)) !== 0) throw new RangeError(`FFT size must be a power of two, got ${size}`);
    this.size = size;
    const m = size / 2;
    this.half = m;
    this.re = new Float64Array(m + 1);
    this.im = new Float64Array(m + 1);
    this.zr = new Float64Array(m);
    this.zi = new Float64Array(m);
    this.rev = new Uint32Array(m);
    const bits = Math.log2(m);
    for (let i = 0; i < m; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >>> b) & 1) << (bits - 1 - b);
      this.rev[i] = r;
    }
    this.twRe = new Float64Array(Math.max(m, 2));
    this.twIm = new Float64Array(Math.max(m, 2));
    for (let h = 1; h < m; h <<= 1) {
      for (let k = 0; k < h; k++) {
        this.twRe[h + k] = Math.cos((-Math.PI * k) / h);
        this.twIm[h + k] = Math.sin((-Math.PI * k) / h);
      }
    }
    this.spRe = new Float64Array(m + 1);
    this.spIm = new Float64Array(m + 1);
    for (let k = 0; k <= m; k++) {
      this.spRe[k] = Math.cos((-2 * Math.PI * k) / size);
      this.spIm[k] = Math.sin((-2 * Math.PI * k) / size);
    }
  }

  /** Transforms the first `size` entries of `x` into `re`/`im` (bins 0..n/2; the rest mirror them). */
  transform(x: Float64Array): void {
    const m = this.half;
    const zr = this.zr;
    const zi = this.zi;
    const rev = this.rev;
    if (m === 1) {
      zr[0] = x[0]!;
      zi[0] = x[1]!;
    }
    // Load in bit-reversed order, which also does the first stage (twiddle 1) on the fly.
    for (let i = 0; i + 1 < m; i += 2) {
      const a = rev[i]!;
      const b = rev[i + 1]!;
      const ar = x[2 * a]!;
      const ai = x[2 * a + 1]!;
      const br = x[2 * b]!;
      const bi = x[2 * b + 1]!;
      zr[i] = ar + br;
      zi[i] = ai + bi;
      zr[i + 1] = ar - br;
      zi[i + 1] = ai - bi;
    }
    if (m >= 4) {
      // Second stage: twiddles 1 and -i.
      for (let s = 0; s < m; s += 4) {
        const r0 = zr[s]!;
        const i0 = zi[s]!;
        const r1 = zr[s + 1]!;
        const i1 = zi[s + 1]!;
        const r2 = zr[s + 2]!;
        const i2 = zi[s + 2]!;
        const r3 = zr[s + 3]!;
        const i3 = zi[s + 3]!;
        zr[s] = r0 + r2;
        zi[s] = i0 + i2;
        zr[s + 2] = r0 - r2;
        zi[s + 2] = i0 - i2;
        zr[s + 1] = r1 + i3;
        zi[s + 1] = i1 - r3;
        zr[s + 3] = r1 - i3;
        zi[s + 3] = i1 + r3;
      }
    }
    const twRe = this.twRe;
    const twIm = this.twIm;
    let h = 4;
    // Two radix-2 stages at a time (half-lengths h and 2h): one pass over memory for both, and
    // the second stage's odd twiddle is -i times its even one, so 3 complex products per 4 points.
    for (; 2 * h < m; h <<= 2) {
      const len = 4 * h;
      for (let s = 0; s < m; s += len) {
        for (let k = 0; k < h; k++) {
          const ar = twRe[h + k]!;
          const ai = twIm[h + k]!;
          const br = twRe[2 * h + k]!;
          const bi = twIm[2 * h + k]!;
          const p0 = s + k;
          const p1 = p0 + h;
          const p2 = p1 + h;
          const p3 = p2 + h;
          // First stage: (p0, p1) and (p2, p3), twiddle a.
          const x1r = zr[p1]! * ar - zi[p1]! * ai;
          const x1i = zr[p1]! * ai + zi[p1]! * ar;
          const x3r = zr[p3]! * ar - zi[p3]! * ai;
          const x3i = zr[p3]! * ai + zi[p3]! * ar;
          const u0r = zr[p0]! + x1r;
          const u0i = zi[p0]! + x1i;
          const u1r = zr[p0]! - x1r;
          const u1i = zi[p0]! - x1i;
          const u2r = zr[p2]! + x3r;
          const u2i = zi[p2]! + x3i;
          const u3r = zr[p2]! - x3r;
          const u3i = zi[p2]! - x3i;
          // Second stage: (p0, p2) with twiddle b, (p1, p3) with -i b.
          const y2r = u2r * br - u2i * bi;
          const y2i = u2r * bi + u2i * br;
          const y3r = u3r * bi + u3i * br;
          const y3i = u3i * bi - u3r * br;
          zr[p0] = u0r + y2r;
          zi[p0] = u0i + y2i;
          zr[p2] = u0r - y2r;
          zi[p2] = u0i - y2i;
          zr[p1] = u1r + y3r;
          zi[p1] = u1i + y3i;
          zr[p3] = u1r - y3r;
          zi[p3] = u1i - y3i;
        }
      }
    }
    for (; h < m; h <<= 1) {
      const len = 2 * h;
      for (let s = 0; s < m; s += len) {
        for (let k = 0; k < h; k++) {
          const wr = twRe[h + k]!;
          const wi = twIm[h + k]!;
          const a = s + k;
          const b = a + h;
          const br = zr[b]!;
          const bi = zi[b]!;
          const tr = br * wr - bi * wi;
          const ti = br * wi + bi * wr;
          const ar = zr[a]!;
          const ai = zi[a]!;
          zr[b] = ar - tr;
          zi[b] = ai - ti;
          zr[a] = ar + tr;
          zi[a] = ai + ti;
        }
      }
    }
    this.split();
  }

  /** X_k = E_k + W^k O_k, with E and O the spectra of the even and odd samples, read off Z. */
  private split(): void {
    const m = this.half;
    const zr = this.zr;
    const zi = this.zi;
    const re = this.re;
    const im = this.im;
    const spRe = this.spRe;
    const spIm = this.spIm;
    for (let k = 0; k <= m; k++) {
      const a = k === m ? 0 : k;
      const b = k === 0 ? 0 : m - k;
      const ar = zr[a]!;
      const ai = zi[a]!;
      const br = zr[b]!;
      const bi = zi[b]!;
      const er = 0.5 * (ar + br);
      const ei = 0.5 * (ai - bi);
      const or = 0.5 * (ai + bi);
      const oi = -0.5 * (ar - br);
      const wr = spRe[k]!;
      const wi = spIm[k]!;
      re[k] = er + wr * or - wi * oi;
      im[k] = ei + wr * oi + wi * or;
    }
  }
}
