/**
 * Test and benchmark support, never imported by production code: manifests, seeded random
 * numbers, XGBoost JSON documents in the exact layout `save_model` writes, and tiny ONNX MLPs
 * built with onnx-proto (a devDependency).
 */
import onnxProto from 'onnx-proto';
import type { ModelManifest, Runtime } from '../domain/model.js';

const { onnx } = onnxProto;

/** A valid manifest with `width` inputs named f0..f{width-1}; override any field. */
export function testManifest(runtime: Runtime, width: number, over: Partial<ModelManifest> = {}): ModelManifest {
  return {
    model: 'test-model',
    version: '1.0.0',
    runtime,
    inputs: Array.from({ length: width }, (_, i) => ({ name: `f${i}`, unit: 'mm/s' })),
    output: { meaning: 'anomaly score', alertThreshold: 0.5, uncertainLow: 0.4, uncertainHigh: 0.6 },
    selfTest: [],
    trainingMetrics: {},
    lineage: {},
    reference: [],
    sequence: 1,
    ...over,
  };
}

/** Deterministic uniform [0, 1) generator (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function utf8(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

/** A tree as nested nodes; `cover` is XGBoost's sum_hessian. */
export type TreeSpec =
  | { leaf: number; cover: number }
  | { feature: number; threshold: number; defaultLeft: boolean; cover: number; left: TreeSpec; right: TreeSpec };

/** XGBoost 2.x JSON document (as from `Booster.save_model("m.json")`) for the given trees. */
export function xgboostJson(opts: { trees: TreeSpec[]; numFeature: number; baseScore: number; objective: string }) {
  return {
    learner: {
      attributes: {},
      feature_names: [],
      feature_types: [],
      gradient_booster: {
        model: {
          gbtree_model_param: { num_parallel_tree: '1', num_trees: String(opts.trees.length) },
          iteration_indptr: opts.trees.map((_, i) => i).concat(opts.trees.length),
          tree_info: opts.trees.map(() => 0),
          trees: opts.trees.map((t, id) => treeJson(t, id, opts.numFeature)),
        },
        name: 'gbtree',
      },
      learner_model_param: {
        base_score: opts.baseScore.toExponential(),
        boost_from_average: '1',
        num_class: '0',
        num_feature: String(opts.numFeature),
        num_target: '1',
      },
      objective: { name: opts.objective, reg_loss_param: { scale_pos_weight: '1' } },
    },
    version: [2, 1, 4],
  };
}

/** Nodes numbered breadth-first, as XGBoost numbers them while growing depth-wise. */
function treeJson(root: TreeSpec, id: number, numFeature: number) {
  const nodes: TreeSpec[] = [root];
  const parents = [2147483647];
  const left: number[] = [];
  const right: number[] = [];
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i]!;
    if ('leaf' in n) {
      left.push(-1);
      right.push(-1);
      continue;
    }
    left.push(nodes.push(n.left) - 1);
    right.push(nodes.push(n.right) - 1);
    parents.push(i, i);
  }
  const isLeaf = (n: TreeSpec): n is { leaf: number; cover: number } => 'leaf' in n;
  return {
    // Split nodes get a base weight unrelated to their leaves, as in real models (it is not scaled
    // by the learning rate), so a runtime reading it instead of cover-weighted means fails tests.
    base_weights: nodes.map((n) => (isLeaf(n) ? n.leaf : 0.123)),
    categories: [],
    categories_nodes: [],
    categories_segments: [],
    categories_sizes: [],
    default_left: nodes.map((n) => (!isLeaf(n) && n.defaultLeft ? 1 : 0)),
    id,
    left_children: left,
    loss_changes: nodes.map((n) => (isLeaf(n) ? 0 : 1)),
    parents,
    right_children: right,
    split_conditions: nodes.map((n) => (isLeaf(n) ? n.leaf : n.threshold)),
    split_indices: nodes.map((n) => (isLeaf(n) ? 0 : n.feature)),
    split_type: nodes.map(() => 0),
    sum_hessian: nodes.map((n) => n.cover),
    tree_param: {
      num_deleted: '0',
      num_feature: String(numFeature),
      num_nodes: String(nodes.length),
      size_leaf_vector: '1',
    },
  };
}

/** A full random tree of `depth` splits; float32 thresholds and leaves as XGBoost stores them. */
export function randomTree(rand: () => number, depth: number, numFeature: number): TreeSpec {
  if (depth === 0) return { leaf: Math.fround((rand() - 0.5) * 0.2), cover: 1 + Math.floor(rand() * 20) };
  const left = randomTree(rand, depth - 1, numFeature);
  const right = randomTree(rand, depth - 1, numFeature);
  return {
    feature: Math.floor(rand() * numFeature),
    threshold: Math.fround(rand() * 2 - 1),
    defaultLeft: rand() < 0.5,
    cover: left.cover + right.cover,
    left,
    right,
  };
}

/** One dense layer: y = act(x W + b), W stored input-major (in × out). */
export interface DenseLayer {
  weights: number[][];
  bias: number[];
  activation: 'relu' | 'sigmoid' | 'none';
}

/** Random MLP with the given layer sizes, relu between layers and `last` on the output. */
export function randomMlp(rand: () => number, sizes: number[], last: DenseLayer['activation']): DenseLayer[] {
  return sizes.slice(1).map((out, l) => {
    const inp = sizes[l]!;
    const scale = 1 / Math.sqrt(inp);
    return {
      weights: Array.from({ length: inp }, () => Array.from({ length: out }, () => (rand() * 2 - 1) * scale)),
      bias: Array.from({ length: out }, () => (rand() * 2 - 1) * 0.1),
      activation: l === sizes.length - 2 ? last : 'relu',
    };
  });
}

/** The MLP's output for one row in float64: the reference the ONNX result is checked against. */
export function mlpForward(layers: DenseLayer[], x: ArrayLike<number>): number[] {
  let h = Array.from(x);
  for (const layer of layers) {
    h = layer.bias.map((b, j) => {
      const z = h.reduce((s, v, i) => s + v * layer.weights[i]![j]!, b);
      if (layer.activation === 'relu') return Math.max(0, z);
      return layer.activation === 'sigmoid' ? 1 / (1 + Math.exp(-z)) : z;
    });
  }
  return h;
}

/** Serialises the MLP as an ONNX model (opset 17) with a symbolic or fixed batch dimension. */
export function mlpOnnx(
  layers: DenseLayer[],
  opts: { input?: string; output?: string; batch?: 'symbolic' | 1 } = {},
): Uint8Array {
  const input = opts.input ?? 'features';
  const output = opts.output ?? 'score';
  const nodes: onnxProto.onnx.INodeProto[] = [];
  const initializer: onnxProto.onnx.ITensorProto[] = [];
  let prev = input;
  for (const [l, layer] of layers.entries()) {
    const last = l === layers.length - 1;
    const add = last && layer.activation === 'none' ? output : `add${l}`;
    initializer.push(floatTensor(`W${l}`, [layer.weights.length, layer.bias.length], layer.weights.flat()));
    initializer.push(floatTensor(`b${l}`, [layer.bias.length], layer.bias));
    nodes.push({ opType: 'MatMul', input: [prev, `W${l}`], output: [`mm${l}`] });
    nodes.push({ opType: 'Add', input: [`mm${l}`, `b${l}`], output: [add] });
    prev = add;
    if (layer.activation === 'none') continue;
    const act = last ? output : `act${l}`;
    nodes.push({ opType: layer.activation === 'relu' ? 'Relu' : 'Sigmoid', input: [add], output: [act] });
    prev = act;
  }
  const batch = opts.batch === 1 ? 1 : 'N';
  const graph = {
    name: 'mlp',
    node: nodes,
    initializer,
    input: [valueInfo(input, [batch, layers[0]!.weights.length])],
    output: [valueInfo(output, [batch, layers[layers.length - 1]!.bias.length])],
  };
  const model = { irVersion: 8, opsetImport: [{ domain: '', version: 17 }], producerName: 'millwright-testkit', graph };
  return onnx.ModelProto.encode(model).finish();
}

function floatTensor(name: string, dims: number[], values: number[]): onnxProto.onnx.ITensorProto {
  return { name, dataType: onnx.TensorProto.DataType.FLOAT, dims, floatData: values };
}

function valueInfo(name: string, dims: (number | string)[]): onnxProto.onnx.IValueInfoProto {
  const dim = dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d }));
  return { name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim } } } };
}
