import type { SelfTestVector } from '../domain/model.js';
import type { LoadedModel, SelfTestOutcome } from './runtime.js';

/**
 * Scores each vector and compares with its expected score within its tolerance; a NaN or
 * infinite score fails. No vectors at all fails too: an unverified model must not go live.
 * Async so a runtime that can only score asynchronously fits later without changing callers.
 */
export async function runSelfTest(
  model: LoadedModel,
  vectors: readonly SelfTestVector[] = model.manifest.selfTest,
): Promise<SelfTestOutcome> {
  if (vectors.length === 0) return { passed: false, failures: ['no self-test vectors'] };
  if (model.selfTest) return model.selfTest(vectors);
  const failures: string[] = [];
  for (const [i, v] of vectors.entries()) {
    const failure = check(model, v, i);
    if (failure) failures.push(failure);
  }
  return { passed: failures.length === 0, failures };
}

function check(model: LoadedModel, v: SelfTestVector, i: number): string | undefined {
  if (v.inputs.length !== model.manifest.inputs.length) {
    return `vector ${i}: ${v.inputs.length} inputs, model has ${model.manifest.inputs.length}`;
  }
  let got: number;
  try {
    got = model.score(Float64Array.from(v.inputs), 0).score;
  } catch (err) {
    return `vector ${i}: score threw ${err instanceof Error ? err.message : String(err)}`;
  }
  if (Number.isFinite(got) && Math.abs(got - v.expectedScore) <= v.tolerance) return undefined;
  return `vector ${i}: expected ${v.expectedScore} ± ${v.tolerance}, got ${got}`;
}
