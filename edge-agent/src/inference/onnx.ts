/**
 * ONNX runtime through onnxruntime-node, scored synchronously.
 *
 * onnxruntime-node's public `InferenceSession.run` is async only in form: it defers the native call
 * with `setImmediate` and then runs it on the main thread anyway, so awaiting it buys no parallelism
 * and costs an event-loop turn per prediction. The package's native binding (`dist/binding.js`,
 * typed by `binding.d.ts`) exposes the same session with a synchronous `run`, which this runtime
 * uses so `LoadedModel.score` stays synchronous like the built-ins. That binding is internal to
 * onnxruntime-node: the version is pinned exactly, and a missing binding fails at load with a
 * ModelLoadError (the ONNX tests catch it on upgrade).
 *
 * Reasons come from occlusion: each feature in turn is replaced by its reference mean (manifest
 * `reference`, 0 when absent) and the score change is its contribution. That costs one extra row
 * per feature (a single batched run when the batch dimension is symbolic), so `score` computes
 * reasons only for alerts; `explain` computes them on demand. Occlusion contributions do not add
 * up to the score when features interact.
 */
import { Tensor } from 'onnxruntime-node';
import { type Binding, binding, initOrt } from 'onnxruntime-node/dist/binding.js';
import { ModelLoadError } from '../domain/errors.js';
import type { ModelManifest, Reason, ScoreResult } from '../domain/model.js';
import { assertArtifactWidth, label, referenceMeans } from './manifest.js';
import { allFinite, decide, ReasonBuilder } from './reasons.js';
import { DEFAULT_TOP_K, type LoadedModel } from './runtime.js';

/** One thread, no spinning: on a 2-core box spinning threads kept cores busy after each query. */
const SESSION_OPTIONS = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
  extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
} as const;

/** ONNX element type codes in the binding's metadata. */
const ELEMENT_TYPES: Record<number, 'float32' | 'float64'> = { 1: 'float32', 11: 'float64' };

interface Io {
  input: string;
  output: string;
  type: 'float32' | 'float64';
  /** True when the batch dimension is symbolic, so occlusion runs as one batch. */
  batched: boolean;
  /** Rank of the input: [width] or [batch, width]. */
  rank: 1 | 2;
}

/**
 * Loads an ONNX model from bytes and checks it against the manifest: one float input of width
 * `inputs.length`, batch dimension 1 or symbolic, and the score output (`output.onnxOutput`, or
 * the only output) holding one value per row.
 * @throws ModelLoadError when the bytes are not a model ORT accepts or the model does not fit.
 */
export async function loadOnnx(manifest: ModelManifest, artifact: Uint8Array): Promise<OnnxModel> {
  const session = openSession(manifest, artifact);
  try {
    return new OnnxModel(manifest, session, checkIo(manifest, session));
  } catch (err) {
    session.dispose();
    throw err;
  }
}

function openSession(manifest: ModelManifest, bytes: Uint8Array): Binding.InferenceSession {
  try {
    initOrt();
    const session = new binding.InferenceSession();
    session.loadModel(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength, SESSION_OPTIONS);
    return session;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ModelLoadError(`${label(manifest)}: onnxruntime cannot load the model: ${reason}`, {}, { cause: err });
  }
}

function checkIo(manifest: ModelManifest, session: Binding.InferenceSession): Io {
  const fail = (what: string, details: Record<string, unknown> = {}) =>
    new ModelLoadError(`${label(manifest)}: ONNX ${what}`, { model: manifest.model, ...details });
  const inputs = session.inputMetadata;
  if (inputs.length !== 1)
    throw fail(`model has ${inputs.length} inputs, one feature tensor expected`, { inputs: inputs.map((i) => i.name) });
  const input = inputs[0]!;
  const type = ELEMENT_TYPES[input.type];
  if (!input.isTensor || !type) throw fail(`input '${input.name}' must be a float32 or float64 tensor`);
  const shape = input.shape;
  if (shape.length < 1 || shape.length > 2)
    throw fail(`input '${input.name}' must have shape [width] or [batch, width]`);
  const width = shape[shape.length - 1]!;
  if (width < 0) throw fail(`input '${input.name}' has a symbolic width; a fixed feature count is required`);
  assertArtifactWidth(manifest, width, `ONNX input '${input.name}' width`);
  if (shape.length === 2 && shape[0] !== 1 && shape[0] !== -1)
    throw fail(`input '${input.name}' batch must be 1 or symbolic`);
  return {
    input: input.name,
    output: pickOutput(manifest, session.outputMetadata, fail),
    type,
    batched: shape.length === 2 && shape[0] === -1,
    rank: shape.length as 1 | 2,
  };
}

function pickOutput(
  manifest: ModelManifest,
  outputs: Binding.ValueMetadata[],
  fail: (what: string, details?: Record<string, unknown>) => ModelLoadError,
): string {
  const names = outputs.map((o) => o.name);
  const wanted = manifest.output.onnxOutput || (outputs.length === 1 ? names[0] : undefined);
  if (wanted === undefined)
    throw fail(`model has outputs [${names.join(', ')}]; set output.onnxOutput`, { outputs: names });
  const out = outputs.find((o) => o.name === wanted);
  if (!out) throw fail(`output '${wanted}' not found; model has [${names.join(', ')}]`, { outputs: names });
  if (!out.isTensor || !ELEMENT_TYPES[out.type]) throw fail(`output '${wanted}' must be a float32 or float64 tensor`);
  const perRow = out.shape.slice(1).reduce((p, d) => (d < 0 ? p : p * d), 1);
  if (out.shape.length > 1 && perRow !== 1) throw fail(`output '${wanted}' holds ${perRow} values per row, 1 expected`);
  return wanted;
}

/** An ONNX model scored with the synchronous native session; see the module comment. */
export class OnnxModel implements LoadedModel {
  private readonly one: Float32Array | Float64Array;
  private readonly oneFeeds: Record<string, Tensor>;
  private readonly batch: Float32Array | Float64Array;
  private readonly batchFeeds: Record<string, Tensor>;
  private readonly fetches: Record<string, null>;
  private readonly reference: Float64Array;
  private readonly contributions: Float64Array;
  private readonly reasons: ReasonBuilder;
  private disposed = false;

  constructor(
    readonly manifest: ModelManifest,
    private readonly session: Binding.InferenceSession,
    private readonly io: Io,
  ) {
    const n = manifest.inputs.length;
    const rows = io.batched ? n + 1 : 1;
    const Data = io.type === 'float32' ? Float32Array : Float64Array;
    this.one = new Data(n);
    this.oneFeeds = { [io.input]: new Tensor(io.type, this.one, io.rank === 2 ? [1, n] : [n]) };
    this.batch = new Data(rows * n);
    this.batchFeeds = { [io.input]: new Tensor(io.type, this.batch, [rows, n]) };
    this.fetches = { [io.output]: null };
    const means = referenceMeans(manifest);
    this.reference = means.map((m) => (Number.isFinite(m) ? m : 0));
    this.contributions = new Float64Array(n);
    this.reasons = new ReasonBuilder(manifest, means);
  }

  score(inputs: Float64Array, topK = DEFAULT_TOP_K): ScoreResult {
    const finite = allFinite(inputs);
    const score = finite ? this.runOne(inputs) : Number.NaN;
    const decision = decide(score, finite, this.manifest.output.alertThreshold);
    const reasons = decision === 'alert' && topK > 0 ? this.explain(inputs, topK) : [];
    return { score, decision, reasons };
  }

  /** Occlusion reasons: contribution_i = score(x) - score(x with x_i at its reference). */
  explain(inputs: Float64Array, topK = DEFAULT_TOP_K): Reason[] {
    if (!allFinite(inputs)) return [];
    if (this.io.batched) this.occludeBatched(inputs);
    else this.occludeOneByOne(inputs);
    return this.reasons.build(inputs, this.contributions, topK);
  }

  private runOne(inputs: Float64Array): number {
    this.one.set(inputs);
    return this.run(this.oneFeeds)[0]!;
  }

  private occludeBatched(inputs: Float64Array): void {
    const n = inputs.length;
    for (let r = 0; r <= n; r++) {
      this.batch.set(inputs, r * n);
      if (r > 0) this.batch[r * n + r - 1] = this.reference[r - 1]!;
    }
    const out = this.run(this.batchFeeds);
    for (let i = 0; i < n; i++) this.contributions[i] = out[0]! - out[i + 1]!;
  }

  private occludeOneByOne(inputs: Float64Array): void {
    const base = this.runOne(inputs);
    for (let i = 0; i < inputs.length; i++) {
      this.one.set(inputs);
      this.one[i] = this.reference[i]!;
      this.contributions[i] = base - this.run(this.oneFeeds)[0]!;
    }
  }

  private run(feeds: Record<string, Tensor>): Float32Array | Float64Array {
    const result = this.session.run(feeds, this.fetches, {});
    return (result[this.io.output] as Tensor).data as Float32Array | Float64Array;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.session.dispose();
  }
}
