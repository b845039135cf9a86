import { ModelLoadError } from '../domain/errors.js';
import type { ModelManifest, Runtime } from '../domain/model.js';
import { loadLinear, loadLogistic } from './linear.js';
import { loadMahalanobis } from './mahalanobis.js';
import { label, validateManifest } from './manifest.js';
import { loadOnnx } from './onnx.js';
import type { LoadedModel } from './runtime.js';
import { loadXgboost } from './xgboost.js';

/**
 * Builds a model of one runtime from its artifact. The manifest is already validated (inputs
 * non-empty and unique, self-test widths); the loader checks the artifact against it.
 * @throws ModelLoadError when the artifact is malformed or its width differs from the manifest.
 */
export type RuntimeLoader = (manifest: ModelManifest, artifact: Uint8Array) => Promise<LoadedModel>;

/**
 * Maps each runtime to its loader. One instance is built in `main.ts` (no module-level registry),
 * so another feature registers e.g. 'bearing_health' on it before models load.
 */
export class RuntimeRegistry {
  private readonly loaders = new Map<Runtime, RuntimeLoader>();

  /** Adds or replaces the loader of `runtime`. */
  registerRuntime(runtime: Runtime, loader: RuntimeLoader): this {
    this.loaders.set(runtime, loader);
    return this;
  }

  /** Runtimes that have a loader, in registration order. */
  runtimes(): Runtime[] {
    return [...this.loaders.keys()];
  }

  /**
   * Validates the manifest, then loads the artifact with the loader of `manifest.runtime`.
   * Does not run the self-test: call `runSelfTest` before putting the model into service.
   * @throws ModelLoadError for an invalid manifest, an unregistered runtime or a bad artifact.
   */
  async loadModel(manifest: ModelManifest, artifact: Uint8Array): Promise<LoadedModel> {
    validateManifest(manifest);
    const loader = this.loaders.get(manifest.runtime);
    if (!loader) {
      const registered = this.runtimes();
      throw new ModelLoadError(
        `${label(manifest)}: no loader registered for runtime '${manifest.runtime}' (registered: ${registered.join(', ')})`,
        { model: manifest.model, runtime: manifest.runtime, registered },
      );
    }
    return loader(manifest, artifact);
  }
}

/** A registry with the built-in runtimes (linear, logistic, xgboost_json, mahalanobis) and ONNX. */
export function createRuntimeRegistry(): RuntimeRegistry {
  return new RuntimeRegistry()
    .registerRuntime('linear', loadLinear)
    .registerRuntime('logistic', loadLogistic)
    .registerRuntime('xgboost_json', loadXgboost)
    .registerRuntime('mahalanobis', loadMahalanobis)
    .registerRuntime('onnx', loadOnnx);
}
