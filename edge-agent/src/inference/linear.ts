import { z } from 'zod';
import type { ModelManifest, ScoreResult } from '../domain/model.js';
import { assertArtifactWidth, parseJsonArtifact, referenceMeans } from './manifest.js';
import { allFinite, decide, ReasonBuilder } from './reasons.js';
import { DEFAULT_TOP_K, type LoadedModel } from './runtime.js';

const finite = z.number().refine(Number.isFinite, 'must be finite');

/**
 * Artifact of the `linear` and `logistic` runtimes (UTF-8 JSON):
 * `{ "weights": number[], "intercept": number, "featureMeans"?: number[] }`.
 * `featureMeans` centres the contributions: contribution_i = w_i * (x_i - mean_i) (mean 0 when absent).
 */
export const linearArtifactSchema = z.object({
  weights: z.array(finite).min(1),
  intercept: finite,
  featureMeans: z.array(finite).optional(),
});
export type LinearArtifact = z.infer<typeof linearArtifactSchema>;

/**
 * Linear regression: score = intercept + Σ w_i x_i. Reasons are exact: the contributions plus
 * intercept + Σ w_i mean_i add up to the score.
 * @throws ModelLoadError on malformed JSON or a width differing from the manifest.
 */
export async function loadLinear(manifest: ModelManifest, artifact: Uint8Array): Promise<LoadedModel> {
  return new LinearModel(manifest, parseLinear(manifest, artifact), false);
}

/**
 * Logistic regression: score = sigmoid(intercept + Σ w_i x_i), a probability. Contributions are
 * exact in log-odds (margin) space, where they add up with the centred intercept to the margin.
 * @throws ModelLoadError on malformed JSON or a width differing from the manifest.
 */
export async function loadLogistic(manifest: ModelManifest, artifact: Uint8Array): Promise<LoadedModel> {
  return new LinearModel(manifest, parseLinear(manifest, artifact), true);
}

function parseLinear(manifest: ModelManifest, bytes: Uint8Array): LinearArtifact {
  const a = parseJsonArtifact(manifest, bytes, linearArtifactSchema);
  assertArtifactWidth(manifest, a.weights.length, 'weights length');
  if (a.featureMeans) assertArtifactWidth(manifest, a.featureMeans.length, 'featureMeans length');
  return a;
}

class LinearModel implements LoadedModel {
  private readonly weights: Float64Array;
  private readonly means: Float64Array;
  private readonly contributions: Float64Array;
  private readonly reasons: ReasonBuilder;
  /** intercept + Σ w_i mean_i: the margin at the centre, so margin = centred + Σ contributions. */
  readonly centredIntercept: number;

  constructor(
    readonly manifest: ModelManifest,
    artifact: LinearArtifact,
    private readonly logistic: boolean,
  ) {
    this.weights = Float64Array.from(artifact.weights);
    this.means = artifact.featureMeans
      ? Float64Array.from(artifact.featureMeans)
      : new Float64Array(this.weights.length);
    this.contributions = new Float64Array(this.weights.length);
    this.centredIntercept = artifact.intercept + this.weights.reduce((s, w, i) => s + w * this.means[i]!, 0);
    const baselines = artifact.featureMeans ? this.means : referenceMeans(manifest);
    this.reasons = new ReasonBuilder(manifest, baselines);
  }

  score(inputs: Float64Array, topK = DEFAULT_TOP_K): ScoreResult {
    const finite = allFinite(inputs);
    const margin = this.margin(inputs);
    const score = this.logistic ? 1 / (1 + Math.exp(-margin)) : margin;
    const decision = decide(score, finite, this.manifest.output.alertThreshold);
    const reasons = finite && topK > 0 ? this.reasons.build(inputs, this.contributions, topK) : [];
    return { score, decision, reasons };
  }

  explain(inputs: Float64Array, topK = DEFAULT_TOP_K) {
    this.margin(inputs);
    return this.reasons.build(inputs, this.contributions, topK);
  }

  /** Fills `contributions` and returns the margin (log-odds for logistic). */
  private margin(inputs: Float64Array): number {
    const w = this.weights;
    const c = this.contributions;
    let margin = this.centredIntercept;
    for (let i = 0; i < w.length; i++) {
      c[i] = w[i]! * (inputs[i]! - this.means[i]!);
      margin += c[i]!;
    }
    return margin;
  }

  dispose(): void {}
}
