import { describe, expect, it } from 'vitest';
import { ErrorCode, ModelLoadError } from '../domain/errors.js';
import type { ModelManifest, Runtime } from '../domain/model.js';
import { createRuntimeRegistry } from './registry.js';
import type { LoadedModel } from './runtime.js';
import { runSelfTest } from './selftest.js';
import { mlpForward, mlpOnnx, randomMlp, seededRandom, testManifest, utf8 } from './testkit.js';

const linearArtifact = utf8({ weights: [1, 2, 3], intercept: 0.5 });

async function loadError(manifest: ModelManifest, artifact = linearArtifact): Promise<ModelLoadError> {
  const err = await createRuntimeRegistry()
    .loadModel(manifest, artifact)
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ModelLoadError);
  return err as ModelLoadError;
}

describe('RuntimeRegistry.loadModel', () => {
  it('dispatches on manifest.runtime', async () => {
    const registry = createRuntimeRegistry();
    const linear = await registry.loadModel(testManifest('linear', 3), linearArtifact);
    expect(linear.score(Float64Array.from([1, 1, 1])).score).toBe(6.5);
    const mlp = randomMlp(seededRandom(1), [3, 4, 1], 'sigmoid');
    const onnx = await registry.loadModel(testManifest('onnx', 3), mlpOnnx(mlp));
    expect(onnx.score(Float64Array.from([1, 1, 1])).score).toBeCloseTo(mlpForward(mlp, [1, 1, 1])[0]!, 5);
    onnx.dispose();
  });

  it('names every duplicate feature in one error', async () => {
    const inputs = [
      { name: 'vib.rms', unit: 'mm/s' },
      { name: 'vib.rms', unit: 'mm/s' },
      { name: 'temp', unit: 'C' },
    ];
    const err = await loadError(testManifest('linear', 3, { inputs }));
    expect(err.code).toBe(ErrorCode.INVALID);
    expect(err.details.issues).toEqual(["inputs.1.name: duplicate feature name 'vib.rms'"]);
  });

  it('rejects a manifest without inputs', async () => {
    const err = await loadError(testManifest('linear', 0));
    expect(err.message).toMatch(/inputs: must list at least one feature/);
  });

  it('rejects self-test vectors narrower than the inputs', async () => {
    const selfTest = [{ inputs: [1, 2], expectedScore: 1, tolerance: 0.1 }];
    const err = await loadError(testManifest('linear', 3, { selfTest }));
    expect(err.details.issues).toEqual(['selfTest.0.inputs: has 2 values, manifest has 3 inputs']);
  });

  it('rejects an artifact wider than the manifest, naming what differs', async () => {
    const err = await loadError(testManifest('linear', 2));
    expect(err.message).toMatch(/weights length is 3 but the manifest lists 2 inputs/);
  });

  it('rejects an unregistered or unknown runtime, and loads one once registered', async () => {
    const bearing = testManifest('bearing_health', 3);
    expect((await loadError(bearing)).message).toMatch(/no loader registered for runtime 'bearing_health'/);
    expect((await loadError(testManifest('tensorflow' as Runtime, 3))).details.runtime).toBe('tensorflow');

    const registry = createRuntimeRegistry();
    const fake: LoadedModel = {
      manifest: bearing,
      score: () => ({ score: 0, decision: 'normal', reasons: [] }),
      dispose: () => {},
    };
    registry.registerRuntime('bearing_health', async () => fake);
    expect(await registry.loadModel(bearing, new Uint8Array())).toBe(fake);
  });
});

describe('runSelfTest', () => {
  const withVectors = (selfTest: ModelManifest['selfTest']) =>
    createRuntimeRegistry().loadModel(testManifest('linear', 3, { selfTest }), linearArtifact);

  it('passes when every vector scores within its tolerance', async () => {
    const model = await withVectors([
      { inputs: [1, 1, 1], expectedScore: 6.5, tolerance: 0 },
      { inputs: [0, 0, 1], expectedScore: 3.49, tolerance: 0.02 },
    ]);
    expect(await runSelfTest(model)).toEqual({ passed: true, failures: [] });
  });

  it('fails on a score outside the tolerance and on a NaN score, naming each vector', async () => {
    const model = await withVectors([
      { inputs: [1, 1, 1], expectedScore: 6.5, tolerance: 0 },
      { inputs: [0, 0, 1], expectedScore: 3.4, tolerance: 0.05 },
      { inputs: [Number.NaN, 0, 0], expectedScore: 0.5, tolerance: 1 },
    ]);
    const outcome = await runSelfTest(model);
    expect(outcome.passed).toBe(false);
    expect(outcome.failures).toEqual(['vector 1: expected 3.4 ± 0.05, got 3.5', 'vector 2: expected 0.5 ± 1, got NaN']);
  });

  it('fails a model that has no vectors at all', async () => {
    expect(await runSelfTest(await withVectors([]))).toEqual({ passed: false, failures: ['no self-test vectors'] });
  });
});
