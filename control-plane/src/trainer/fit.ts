/**
 * The example trainer's model: logistic regression fitted by full-batch gradient descent on
 * standardised features with L2, exported in the edge `logistic` runtime's artifact format, plus the
 * training reference histograms (FeatureReference) the drift monitor compares against.
 */

export interface TrainingSet {
  /** Rows of feature values in `names` order. */
  x: number[][];
  y: number[];
  /** Per-row weight (labelled rows count more than pseudo-labelled ones). */
  w: number[];
}

export interface FitOptions {
  /** @default 500 */
  iterations?: number;
  /** @default 0.5 */
  learningRate?: number;
  /** @default 1e-3 */
  l2?: number;
}

export interface LogisticFit {
  weights: number[];
  intercept: number;
  featureMeans: number[];
  loss: number;
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** Score exactly as the edge runtime computes it: sigmoid(intercept + Σ w_i x_i). */
export function logisticScore(fit: Pick<LogisticFit, 'weights' | 'intercept'>, x: readonly number[]): number {
  let z = fit.intercept;
  for (let i = 0; i < fit.weights.length; i++) z += fit.weights[i]! * x[i]!;
  return sigmoid(z);
}

function columnStats(x: number[][], d: number): { mean: number[]; std: number[] } {
  const mean = Array(d).fill(0) as number[];
  const std = Array(d).fill(0) as number[];
  for (const row of x) for (let j = 0; j < d; j++) mean[j]! += row[j]! / x.length;
  for (const row of x) for (let j = 0; j < d; j++) std[j]! += (row[j]! - mean[j]!) ** 2 / x.length;
  return { mean, std: std.map((v) => Math.sqrt(v) || 1) };
}

/** Fits on standardised inputs, then folds the scaling back so the artifact takes raw feature values. */
export function fitLogistic(data: TrainingSet, opts: FitOptions = {}): LogisticFit {
  const n = data.x.length;
  if (n === 0) throw new Error('no training rows');
  const d = data.x[0]!.length;
  const { mean, std } = columnStats(data.x, d);
  const z = data.x.map((row) => row.map((v, j) => (v - mean[j]!) / std[j]!));
  const beta = Array(d).fill(0) as number[];
  let b0 = 0;
  const lr = opts.learningRate ?? 0.5;
  const l2 = opts.l2 ?? 1e-3;
  const wSum = data.w.reduce((s, v) => s + v, 0) || 1;
  let loss = 0;
  for (let it = 0; it < (opts.iterations ?? 500); it++) {
    const g = Array(d).fill(0) as number[];
    let g0 = 0;
    loss = 0;
    for (let i = 0; i < n; i++) {
      const p = logisticScore({ weights: beta, intercept: b0 }, z[i]!);
      const e = (p - data.y[i]!) * data.w[i]!;
      g0 += e;
      for (let j = 0; j < d; j++) g[j]! += e * z[i]![j]!;
      const pc = Math.min(Math.max(p, 1e-12), 1 - 1e-12);
      loss -= data.w[i]! * (data.y[i]! * Math.log(pc) + (1 - data.y[i]!) * Math.log(1 - pc));
    }
    b0 -= (lr * g0) / wSum;
    for (let j = 0; j < d; j++) beta[j]! -= lr * (g[j]! / wSum + l2 * beta[j]!);
  }
  const weights = beta.map((v, j) => v / std[j]!);
  const intercept = b0 - weights.reduce((s, w, j) => s + w * mean[j]!, 0);
  return { weights, intercept, featureMeans: mean, loss: loss / wSum };
}

export interface Reference {
  feature: string;
  binEdges: number[];
  binFractions: number[];
  mean: number;
  std: number;
}

/**
 * Reference histogram of one feature: equal-frequency bins (quantile edges, at most `bins`, and at
 * least 8 training values per bin) so no bin is empty by chance, with the outer edges moved out by
 * half a typical bin, and add-½ smoothing of the fractions: a reference with an empty bin would turn
 * ordinary sampling noise into a huge PSI.
 */
export function referenceOf(feature: string, values: readonly number[], bins = 10): Reference {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  const n = sorted.length || 1;
  const mean = sorted.reduce((s, v) => s + v, 0) / n;
  const std = Math.sqrt(sorted.reduce((s, v) => s + (v - mean) ** 2, 0) / n);
  const k = Math.max(2, Math.min(bins, Math.floor(n / 8)));
  const lo = sorted[0] ?? 0;
  const hi = sorted[sorted.length - 1] ?? 0;
  const span = hi > lo ? hi - lo : Math.abs(lo) * 0.01 || 1;
  const inner: number[] = [];
  for (let i = 1; i < k; i++) {
    const q = sorted[Math.min(sorted.length - 1, Math.floor((i * n) / k))] ?? lo;
    if (q > (inner.at(-1) ?? lo) && q < hi) inner.push(q);
  }
  const pad = span / (2 * (inner.length + 1));
  const edges = [lo - pad, ...inner, hi + pad];
  const counts = Array(edges.length - 1).fill(0) as number[];
  for (const v of sorted) {
    let b = 0;
    while (b < counts.length - 1 && v >= edges[b + 1]!) b++;
    counts[b]!++;
  }
  const total = sorted.length + 0.5 * counts.length;
  return { feature, binEdges: edges, binFractions: counts.map((c) => (c + 0.5) / total), mean, std };
}
