import { ModelLoadError } from '../domain/errors.js';
import type { ModelManifest, Reason, ScoreResult } from '../domain/model.js';
import { assertArtifactWidth, label, referenceMeans } from './manifest.js';
import { allFinite, decide, ReasonBuilder } from './reasons.js';
import { DEFAULT_TOP_K, type LoadedModel } from './runtime.js';
import { applyLink, type Link, parseXgboost, type XgbModel, type XgbTree } from './xgboost-format.js';

/**
 * All trees flattened into typed arrays with global node indices, so scoring walks memory
 * without objects. `value` holds the leaf value at leaves and, at split nodes, the mean of the
 * leaves below weighted by cover (sum_hessian), as XGBoost's own approximate contributions do.
 */
export interface CompiledForest {
  /** Split feature, -1 at leaves. */
  feature: Int32Array;
  /** Split threshold as float32 (XGBoost goes left when x < threshold in float32). */
  threshold: Float32Array;
  left: Int32Array;
  right: Int32Array;
  /** Child taken when the split feature is NaN (XGBoost's default_left). */
  missing: Int32Array;
  value: Float64Array;
  roots: Int32Array;
  /** baseMargin + Σ root values: the margin before any split says anything (Saabas bias). */
  bias: number;
  baseMargin: number;
  link: Link;
}

/**
 * Loads an XGBoost JSON model (`Booster.save_model("m.json")`) into a compiled forest.
 * @throws ModelLoadError on malformed or unsupported models, or num_feature differing from the manifest.
 */
export async function loadXgboost(manifest: ModelManifest, artifact: Uint8Array): Promise<XgboostModel> {
  const parsed = parseXgboost(manifest, artifact);
  assertArtifactWidth(manifest, parsed.numFeature, 'XGBoost num_feature');
  return new XgboostModel(manifest, compileForest(manifest, parsed));
}

/** Flattens and checks every tree: indices in range, a tree shape (no cycles, no shared nodes). */
export function compileForest(manifest: ModelManifest, model: XgbModel): CompiledForest {
  const total = model.trees.reduce((n, t) => n + t.left_children.length, 0);
  const forest: CompiledForest = {
    feature: new Int32Array(total),
    threshold: new Float32Array(total),
    left: new Int32Array(total),
    right: new Int32Array(total),
    missing: new Int32Array(total),
    value: new Float64Array(total),
    roots: new Int32Array(model.trees.length),
    bias: model.baseMargin,
    baseMargin: model.baseMargin,
    link: model.link,
  };
  let offset = 0;
  for (const [t, tree] of model.trees.entries()) {
    const fail = (what: string) => new ModelLoadError(`${label(manifest)}: XGBoost tree ${t}: ${what}`, { tree: t });
    checkTreeArrays(tree, fail);
    copyTree(tree, offset, forest, model.numFeature, fail);
    forest.roots[t] = offset;
    forest.bias += fillMeans(forest, offset, tree, 0);
    offset += tree.left_children.length;
  }
  return forest;
}

function checkTreeArrays(tree: XgbTree, fail: (what: string) => Error): void {
  const n = tree.left_children.length;
  if (n === 0) throw fail('has no nodes');
  const arrays = ['right_children', 'split_indices', 'split_conditions', 'default_left', 'sum_hessian'] as const;
  for (const name of arrays) {
    if (tree[name].length !== n) throw fail(`${name} has ${tree[name].length} entries, left_children ${n}`);
  }
  if (Number(tree.tree_param?.size_leaf_vector ?? 0) > 1) throw fail('vector leaves are not supported');
  if (tree.split_type?.some((s) => s !== 0)) throw fail('categorical splits are not supported');
}

/** Depth-first copy from the root; visiting a node twice or leaving the array is an error. */
function copyTree(tree: XgbTree, offset: number, f: CompiledForest, numFeature: number, fail: (w: string) => Error) {
  const n = tree.left_children.length;
  const seen = new Uint8Array(n);
  const stack = [0];
  while (stack.length > 0) {
    const i = stack.pop()!;
    if (i < 0 || i >= n) throw fail(`child index ${i} is outside 0..${n - 1}`);
    if (seen[i]) throw fail(`node ${i} is reached twice`);
    seen[i] = 1;
    const l = tree.left_children[i]!;
    const r = tree.right_children[i]!;
    const g = offset + i;
    f.left[g] = l === -1 ? -1 : offset + l;
    f.right[g] = r === -1 ? -1 : offset + r;
    f.missing[g] = tree.default_left[i] ? f.left[g]! : f.right[g]!;
    f.threshold[g] = tree.split_conditions[i]!;
    if (l === -1) {
      if (r !== -1) throw fail(`node ${i} has a right child but no left child`);
      f.feature[g] = -1;
      continue;
    }
    const feat = tree.split_indices[i]!;
    if (feat < 0 || feat >= numFeature) throw fail(`node ${i} splits on feature ${feat}, num_feature is ${numFeature}`);
    f.feature[g] = feat;
    stack.push(r, l);
  }
}

/** Post-order: leaf value at leaves, cover-weighted mean of the children elsewhere. */
function fillMeans(f: CompiledForest, offset: number, tree: XgbTree, i: number): number {
  const g = offset + i;
  if (f.feature[g] === -1) {
    f.value[g] = Math.fround(tree.split_conditions[i]!);
    return f.value[g]!;
  }
  const l = tree.left_children[i]!;
  const r = tree.right_children[i]!;
  const ml = fillMeans(f, offset, tree, l);
  const mr = fillMeans(f, offset, tree, r);
  const hl = tree.sum_hessian[l]!;
  const hr = tree.sum_hessian[r]!;
  const h = tree.sum_hessian[i]! > 0 ? tree.sum_hessian[i]! : hl + hr;
  f.value[g] = h > 0 ? (ml * hl + mr * hr) / h : (ml + mr) / 2;
  return f.value[g]!;
}

/**
 * Gradient-boosted trees with Saabas path contributions: at each split the change in node value
 * is credited to the split feature, so bias + Σ contributions = margin exactly. Contributions are
 * in margin space (log-odds for binary:logistic). A NaN input follows the node's default branch;
 * the score is still reported but the decision is 'unknown', as for every non-finite input.
 */
export class XgboostModel implements LoadedModel {
  private readonly x32: Float32Array;
  private readonly contributions: Float64Array;
  private readonly reasons: ReasonBuilder;

  constructor(
    readonly manifest: ModelManifest,
    readonly forest: CompiledForest,
  ) {
    this.x32 = new Float32Array(manifest.inputs.length);
    this.contributions = new Float64Array(manifest.inputs.length);
    this.reasons = new ReasonBuilder(manifest, referenceMeans(manifest));
  }

  score(inputs: Float64Array, topK = DEFAULT_TOP_K): ScoreResult {
    const finite = allFinite(inputs);
    const margin = topK > 0 ? this.marginWithContributions(inputs) : this.margin(inputs);
    const score = applyLink(margin, this.forest.link);
    const decision = decide(score, finite, this.manifest.output.alertThreshold);
    const reasons = topK > 0 ? this.reasons.build(inputs, this.contributions, topK) : [];
    return { score, decision, reasons };
  }

  explain(inputs: Float64Array, topK = DEFAULT_TOP_K): Reason[] {
    this.marginWithContributions(inputs);
    return this.reasons.build(inputs, this.contributions, topK);
  }

  /** Raw margin (before the objective's link), without contributions. */
  margin(inputs: Float64Array): number {
    const { feature, threshold, left, right, missing, value, roots } = this.forest;
    const x = this.toFloat32(inputs);
    let margin = this.forest.baseMargin;
    for (let t = 0; t < roots.length; t++) {
      let node = roots[t]!;
      for (let f = feature[node]!; f >= 0; f = feature[node]!) {
        // NaN fails both comparisons and takes the missing branch, without a NaN test on the hot path.
        const v = x[f]!;
        const th = threshold[node]!;
        node = v < th ? left[node]! : v >= th ? right[node]! : missing[node]!;
      }
      margin += value[node]!;
    }
    return margin;
  }

  /** Margin, filling `contributions` (per input, margin space) along every decision path. */
  marginWithContributions(inputs: Float64Array, out: Float64Array = this.contributions): number {
    const { feature, threshold, left, right, missing, value, roots } = this.forest;
    const x = this.toFloat32(inputs);
    out.fill(0);
    let margin = this.forest.baseMargin;
    for (let t = 0; t < roots.length; t++) {
      let node = roots[t]!;
      for (let f = feature[node]!; f >= 0; f = feature[node]!) {
        const v = x[f]!;
        const th = threshold[node]!;
        const next = v < th ? left[node]! : v >= th ? right[node]! : missing[node]!;
        out[f] = out[f]! + value[next]! - value[node]!;
        node = next;
      }
      margin += value[node]!;
    }
    return margin;
  }

  /** XGBoost compares in float32; rounding the inputs once keeps its exact branch choices. */
  private toFloat32(inputs: Float64Array): Float32Array {
    this.x32.set(inputs);
    return this.x32;
  }

  dispose(): void {}
}
