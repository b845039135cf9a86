import { z } from 'zod';
import { ModelLoadError } from '../domain/errors.js';
import type { ModelManifest, Reason, ScoreResult } from '../domain/model.js';
import { assertArtifactWidth, label, parseJsonArtifact } from './manifest.js';
import { allFinite, decide, ReasonBuilder } from './reasons.js';
import { DEFAULT_TOP_K, type LoadedModel } from './runtime.js';
import { invertSpd } from './spd.js';

const finite = z.number().refine(Number.isFinite, 'must be finite');
const matrix = z.array(z.array(finite));

/**
 * Artifact of the `mahalanobis` runtime (UTF-8 JSON), exactly one of the two matrices:
 * `{ "mean": number[], "inverseCovariance"?: number[][], "covariance"?: number[][],
 *    "ridge"?: number, "scoreTransform"?: "distance" | "squared" }`.
 * `covariance` (e.g. a robust MCD estimate) is inverted at load after adding `ridge` to its diagonal.
 */
export const mahalanobisArtifactSchema = z
  .object({
    mean: z.array(finite).min(1),
    inverseCovariance: matrix.optional(),
    covariance: matrix.optional(),
    /** @default 0 */
    ridge: finite.min(0).default(0),
    /** @default 'distance' */
    scoreTransform: z.enum(['distance', 'squared']).default('distance'),
  })
  .refine((a) => (a.inverseCovariance === undefined) !== (a.covariance === undefined), {
    message: 'give exactly one of inverseCovariance and covariance',
  });
export type MahalanobisArtifact = z.infer<typeof mahalanobisArtifactSchema>;

/**
 * Mahalanobis distance from a healthy baseline. With d = x - mean and y = S⁻¹d, the squared
 * distance is Σ d_i·y_i; feature i contributes d_i·y_i to it, scaled by 1/distance for the
 * 'distance' transform, so contributions always add up to the score.
 * @throws ModelLoadError on malformed JSON, non-square or mis-sized matrices, a covariance that
 * is not positive definite, or a width differing from the manifest.
 */
export async function loadMahalanobis(manifest: ModelManifest, artifact: Uint8Array): Promise<LoadedModel> {
  const a = parseJsonArtifact(manifest, artifact, mahalanobisArtifactSchema);
  assertArtifactWidth(manifest, a.mean.length, 'mean length');
  const n = a.mean.length;
  const given = flatten(manifest, (a.inverseCovariance ?? a.covariance)!, n);
  if (a.covariance) for (let i = 0; i < n; i++) given[i * n + i] = given[i * n + i]! + a.ridge;
  const other = invertSpd(given, n);
  if (!other) {
    const which = a.covariance ? 'covariance' : 'inverseCovariance';
    throw new ModelLoadError(`${label(manifest)}: ${which} is not symmetric positive definite`, { which });
  }
  // Inverting a given inverse too is the positive-definiteness check.
  const inverse = a.covariance ? other : given;
  return new MahalanobisModel(manifest, Float64Array.from(a.mean), inverse, a.scoreTransform);
}

function flatten(manifest: ModelManifest, rows: number[][], n: number): Float64Array {
  if (rows.length !== n || rows.some((r) => r.length !== n)) {
    throw new ModelLoadError(`${label(manifest)}: matrix must be ${n}x${n} to match the mean`, { n });
  }
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (Math.abs(rows[i]![j]! - rows[j]![i]!) > 1e-9 * (1 + Math.abs(rows[i]![j]!))) {
        throw new ModelLoadError(`${label(manifest)}: matrix is not symmetric at (${i}, ${j})`, { i, j });
      }
      out[i * n + j] = rows[i]![j]!;
    }
  }
  return out;
}

class MahalanobisModel implements LoadedModel {
  private readonly centred: Float64Array;
  private readonly contributions: Float64Array;
  private readonly reasons: ReasonBuilder;

  constructor(
    readonly manifest: ModelManifest,
    private readonly mean: Float64Array,
    private readonly inverse: Float64Array,
    private readonly transform: 'distance' | 'squared',
  ) {
    const n = mean.length;
    this.centred = new Float64Array(n);
    this.contributions = new Float64Array(n);
    this.reasons = new ReasonBuilder(manifest, mean);
  }

  score(inputs: Float64Array, topK = DEFAULT_TOP_K): ScoreResult {
    const finite = allFinite(inputs);
    const score = this.compute(inputs);
    const decision = decide(score, finite, this.manifest.output.alertThreshold);
    const reasons = finite && topK > 0 ? this.reasons.build(inputs, this.contributions, topK) : [];
    return { score, decision, reasons };
  }

  explain(inputs: Float64Array, topK = DEFAULT_TOP_K): Reason[] {
    this.compute(inputs);
    return this.reasons.build(inputs, this.contributions, topK);
  }

  /** Fills `contributions` (scaled to add up to the score) and returns the score. */
  private compute(inputs: Float64Array): number {
    const n = this.mean.length;
    const d = this.centred;
    const c = this.contributions;
    for (let i = 0; i < n; i++) d[i] = inputs[i]! - this.mean[i]!;
    let squared = 0;
    for (let i = 0; i < n; i++) {
      let y = 0;
      const row = i * n;
      for (let j = 0; j < n; j++) y += this.inverse[row + j]! * d[j]!;
      c[i] = d[i]! * y;
      squared += c[i]!;
    }
    // Rounding can leave a tiny negative squared distance for x ≈ mean.
    squared = Math.max(0, squared);
    if (this.transform === 'squared') return squared;
    const distance = Math.sqrt(squared);
    const scale = distance > 0 ? 1 / distance : 0;
    for (let i = 0; i < n; i++) c[i] = c[i]! * scale;
    return distance;
  }

  dispose(): void {}
}
