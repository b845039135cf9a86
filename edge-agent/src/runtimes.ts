import { createRuntimeRegistry, type RuntimeRegistry } from './inference/registry.js';
import { loadBearingHealth } from './pack/bearing/model.js';

/**
 * Every runtime the agent serves: the generic inference runtimes plus the rotating-machinery pack.
 * The control plane uses the same registry for registration self-tests (ADR 0001).
 */
export function createAgentRuntimeRegistry(): RuntimeRegistry {
  return createRuntimeRegistry().registerRuntime('bearing_health', async (manifest, artifact) =>
    loadBearingHealth(manifest, artifact),
  );
}
