import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelLoadError } from '../domain/errors.js';
import { randomTree, seededRandom, type TreeSpec, testManifest, utf8, xgboostJson } from './testkit.js';
import { loadXgboost } from './xgboost.js';

const f = Math.fround;
const x = (...v: number[]) => Float64Array.from(v);

/** f0 < 0.5 ? 0.2 : (f1 < 1 ? -0.1 : 0.4), covers 4 | (2, 4). */
const tree0: TreeSpec = {
  feature: 0,
  threshold: 0.5,
  defaultLeft: true,
  cover: 10,
  left: { leaf: f(0.2), cover: 4 },
  right: {
    feature: 1,
    threshold: 1,
    defaultLeft: false,
    cover: 6,
    left: { leaf: f(-0.1), cover: 2 },
    right: { leaf: f(0.4), cover: 4 },
  },
};
/** f2 < 0 ? -0.3 : 0.1, equal covers. */
const tree1: TreeSpec = {
  feature: 2,
  threshold: 0,
  defaultLeft: false,
  cover: 10,
  left: { leaf: f(-0.3), cover: 5 },
  right: { leaf: f(0.1), cover: 5 },
};

/** Writes the model as a file the way a training job would and reads the bytes back. */
function modelFile(doc: unknown): Uint8Array {
  const path = join(mkdtempSync(join(tmpdir(), 'mw-xgb-')), 'model.json');
  writeFileSync(path, JSON.stringify(doc));
  return readFileSync(path);
}

const sigmoid = (m: number) => 1 / (1 + Math.exp(-m));

describe('xgboost_json runtime', () => {
  const manifest = testManifest('xgboost_json', 3);
  const classifier = () =>
    loadXgboost(
      manifest,
      modelFile(xgboostJson({ trees: [tree0, tree1], numFeature: 3, baseScore: 0.5, objective: 'binary:logistic' })),
    );

  it('predicts the sigmoid of base margin plus the leaves reached', async () => {
    const model = await classifier();
    // Leaves 0.4 and -0.3; base_score 0.5 is margin 0.
    expect(model.score(x(1, 2, -1)).score).toBeCloseTo(sigmoid(f(0.4) + f(-0.3)), 12);
    expect(model.score(x(0, 0, 5)).score).toBeCloseTo(sigmoid(f(0.2) + f(0.1)), 12);
    expect(model.score(x(0.5, 0.9, 0)).score).toBeCloseTo(sigmoid(f(-0.1) + f(0.1)), 12);
  });

  it('gives Saabas contributions from cover-weighted node means that add up with the bias to the margin', async () => {
    const model = await classifier();
    // Node means: right split (-0.1·2 + 0.4·4)/6 = 0.2333; root (0.2·4 + 0.2333·6)/10 = 0.22; tree1 -0.1.
    expect(model.forest.bias).toBeCloseTo(0.22 - 0.1, 6);
    const r = model.score(x(1, 2, -1), 3);
    const byFeature = Object.fromEntries(r.reasons.map((q) => [q.feature, q.contribution]));
    expect(byFeature.f0).toBeCloseTo(1.4 / 6 - 0.22, 6);
    expect(byFeature.f1).toBeCloseTo(0.4 - 1.4 / 6, 6);
    expect(byFeature.f2).toBeCloseTo(-0.2, 6);
    expect(r.reasons.map((q) => q.feature)).toEqual(['f2', 'f1', 'f0']);
    const sum = model.forest.bias + r.reasons.reduce((s, q) => s + q.contribution, 0);
    expect(sum).toBeCloseTo(model.margin(x(1, 2, -1)), 12);
  });

  it('sends NaN down the default branch, reports the score and decides unknown', async () => {
    const model = await classifier();
    const left = model.score(x(Number.NaN, 0, 1));
    expect(left.score).toBeCloseTo(sigmoid(f(0.2) + f(0.1)), 12);
    expect(left.decision).toBe('unknown');
    expect(model.margin(x(1, Number.NaN, 1))).toBeCloseTo(f(0.4) + f(0.1), 12);
  });

  it('compares in float32 like XGBoost: x equal to the threshold goes right', async () => {
    const split: TreeSpec = {
      feature: 0,
      threshold: f(0.1),
      defaultLeft: true,
      cover: 2,
      left: { leaf: -1, cover: 1 },
      right: { leaf: 1, cover: 1 },
    };
    const doc = xgboostJson({ trees: [split], numFeature: 1, baseScore: 0, objective: 'reg:squarederror' });
    const model = await loadXgboost(testManifest('xgboost_json', 1), utf8(doc));
    // In float64 0.1 < fround(0.1); in float32 they are equal.
    expect(model.margin(x(0.1))).toBe(1);
    expect(model.margin(x(0.0999999))).toBe(-1);
  });

  it('adds base_score unchanged for regression and accepts the XGBoost 3 vector form', async () => {
    const doc = xgboostJson({ trees: [tree1], numFeature: 3, baseScore: 2.5, objective: 'reg:squarederror' });
    doc.learner.learner_model_param.base_score = '[2.5E0]';
    const model = await loadXgboost(manifest, utf8(doc));
    expect(model.score(x(0, 0, -1)).score).toBeCloseTo(2.5 + f(-0.3), 12);
  });

  it('matches a direct walk of the JSON trees and keeps bias + contributions = margin on a random forest', async () => {
    const rand = seededRandom(42);
    const trees = Array.from({ length: 20 }, () => randomTree(rand, 4, 10));
    const doc = xgboostJson({ trees, numFeature: 10, baseScore: 0.3, objective: 'binary:logistic' });
    const model = await loadXgboost(testManifest('xgboost_json', 10), utf8(doc));
    const contributions = new Float64Array(10);
    for (let k = 0; k < 50; k++) {
      const input = Float64Array.from({ length: 10 }, () => rand() * 2 - 1);
      const expected = Math.log(0.3 / 0.7) + trees.reduce((s, t) => s + walk(t, input), 0);
      const margin = model.marginWithContributions(input, contributions);
      expect(margin).toBeCloseTo(expected, 9);
      expect(model.forest.bias + contributions.reduce((s, c) => s + c, 0)).toBeCloseTo(margin, 9);
      expect(model.score(input).score).toBeCloseTo(sigmoid(expected), 9);
    }
  });

  it('rejects a num_feature different from the manifest input count', async () => {
    const doc = xgboostJson({ trees: [tree0], numFeature: 4, baseScore: 0.5, objective: 'binary:logistic' });
    const err = await loadXgboost(manifest, utf8(doc)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelLoadError);
    expect((err as ModelLoadError).details).toMatchObject({ what: 'XGBoost num_feature', expected: 3, actual: 4 });
  });

  it('rejects split features out of range, cycles, categorical splits, multi-class and unknown objectives', async () => {
    const load = (mutate: (d: ReturnType<typeof xgboostJson>) => void) => {
      const doc = xgboostJson({ trees: [tree0], numFeature: 3, baseScore: 0.5, objective: 'binary:logistic' });
      mutate(doc);
      return loadXgboost(manifest, utf8(doc));
    };
    const tree = (d: ReturnType<typeof xgboostJson>) => d.learner.gradient_booster.model.trees[0]!;
    await expect(load((d) => (tree(d).split_indices[0] = 7))).rejects.toThrow(/feature 7/);
    await expect(load((d) => (tree(d).left_children[2] = 0))).rejects.toThrow(/reached twice/);
    await expect(load((d) => (tree(d).split_type[0] = 1))).rejects.toThrow(/categorical/);
    await expect(load((d) => (d.learner.learner_model_param.num_class = '3'))).rejects.toThrow(/more than one output/);
    await expect(load((d) => (d.learner.objective.name = 'rank:pairwise'))).rejects.toThrow(ModelLoadError);
    await expect(load((d) => (d.learner.gradient_booster.name = 'dart'))).rejects.toThrow(/dart/);
  });
});

/** Independent reference: recursive walk of the nested spec in float32 comparisons. */
function walk(t: TreeSpec, input: Float64Array): number {
  if ('leaf' in t) return t.leaf;
  const v = f(input[t.feature]!);
  return walk(v < t.threshold ? t.left : t.right, input);
}
