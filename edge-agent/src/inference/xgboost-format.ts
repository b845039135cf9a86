import { z } from 'zod';
import { ModelLoadError } from '../domain/errors.js';
import type { ModelManifest } from '../domain/model.js';
import { label, matchSchema, parseJsonArtifact } from './manifest.js';

/** How the margin becomes the score, and how base_score (in score space) becomes a margin. */
export type Link = 'identity' | 'sigmoid' | 'logitraw' | 'exp';

const OBJECTIVE_LINKS: Record<string, Link> = {
  'reg:squarederror': 'identity',
  'reg:linear': 'identity',
  'reg:squaredlogerror': 'identity',
  'reg:pseudohubererror': 'identity',
  'reg:absoluteerror': 'identity',
  'binary:logistic': 'sigmoid',
  'reg:logistic': 'sigmoid',
  'binary:logitraw': 'logitraw',
  'count:poisson': 'exp',
  'reg:gamma': 'exp',
  'reg:tweedie': 'exp',
};

const int = z.number().int();
const flag = z.union([z.boolean(), int]).transform((v) => v === true || v === 1);
const numericString = z.union([z.string(), z.number()]);

/** One tree as `Booster.save_model("m.json")` writes it (fields this runtime reads). */
const treeSchema = z.object({
  left_children: z.array(int),
  right_children: z.array(int),
  split_indices: z.array(int),
  split_conditions: z.array(z.number()),
  default_left: z.array(flag),
  base_weights: z.array(z.number()),
  sum_hessian: z.array(z.number()),
  split_type: z.array(int).optional(),
  tree_param: z.object({ size_leaf_vector: numericString.optional() }).optional(),
});
export type XgbTree = z.infer<typeof treeSchema>;

const outerSchema = z.object({
  learner: z.object({
    gradient_booster: z.object({ name: z.string(), model: z.unknown() }),
    learner_model_param: z.object({
      base_score: numericString,
      num_feature: numericString,
      num_class: numericString.optional(),
      num_target: numericString.optional(),
    }),
    objective: z.object({ name: z.string() }),
  }),
});

const gbtreeSchema = z.object({
  trees: z.array(treeSchema).min(1),
  tree_info: z.array(int).optional(),
});

/** The parts of an XGBoost JSON model that scoring needs, checked. */
export interface XgbModel {
  trees: XgbTree[];
  numFeature: number;
  link: Link;
  /** base_score moved into margin space by the objective's link. */
  baseMargin: number;
}

/**
 * Parses XGBoost's JSON model format (gbtree booster, one output).
 * @throws ModelLoadError for malformed JSON, dart/gblinear boosters, multi-class or multi-target
 * models, categorical splits, vector leaves and objectives it cannot link.
 */
export function parseXgboost(manifest: ModelManifest, bytes: Uint8Array): XgbModel {
  const { learner } = parseJsonArtifact(manifest, bytes, outerSchema);
  const unsupported = (what: string) => new ModelLoadError(`${label(manifest)}: unsupported XGBoost model: ${what}`);
  if (learner.gradient_booster.name !== 'gbtree') throw unsupported(`booster '${learner.gradient_booster.name}'`);
  const link = OBJECTIVE_LINKS[learner.objective.name];
  if (!link) throw unsupported(`objective '${learner.objective.name}'`);
  const params = learner.learner_model_param;
  if (Number(params.num_class ?? 0) > 1 || Number(params.num_target ?? 1) > 1)
    throw unsupported('more than one output');
  const model = matchSchema(manifest, learner.gradient_booster.model, gbtreeSchema, 'the XGBoost gbtree format');
  if (model.tree_info?.some((g) => g !== 0)) throw unsupported('trees for more than one output group');
  const baseScore = parseBaseScore(params.base_score);
  if (baseScore === undefined) throw unsupported(`base_score '${params.base_score}'`);
  return { trees: model.trees, numFeature: Number(params.num_feature), link, baseMargin: toMargin(baseScore, link) };
}

/** "5E-1", 0.5 or "[5E-1]" (XGBoost 3 writes a vector); a vector of several is multi-target. */
function parseBaseScore(raw: string | number): number | undefined {
  const text = String(raw)
    .trim()
    .replace(/^\[(.*)\]$/, '$1');
  if (text.includes(',')) return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

function toMargin(baseScore: number, link: Link): number {
  switch (link) {
    case 'identity':
      return baseScore;
    case 'sigmoid':
    case 'logitraw':
      return -Math.log(1 / baseScore - 1);
    case 'exp':
      return Math.log(baseScore);
  }
}

/** The objective's inverse link applied to a margin. */
export function applyLink(margin: number, link: Link): number {
  switch (link) {
    case 'identity':
    case 'logitraw':
      return margin;
    case 'sigmoid':
      return 1 / (1 + Math.exp(-margin));
    case 'exp':
      return Math.exp(margin);
  }
}
