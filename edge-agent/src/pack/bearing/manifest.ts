import { ModelLoadError } from '../../domain/errors.js';
import type { ModelManifest, SelfTestVector } from '../../domain/model.js';
import type { SelfTestOutcome } from '../../inference/runtime.js';
import { type BearingHealthArtifact, parseArtifact } from './artifact.js';
import { artifactInputs, BearingHealthModel } from './model.js';

export interface ManifestInput {
  model: string;
  version: string;
  sequence: number;
  trainingMetrics?: Record<string, number>;
  lineage?: ModelManifest['lineage'];
  description?: string;
}

/** Manifest for an artifact, with self-test vectors computed by the model itself. */
export function buildManifest(artifact: BearingHealthArtifact, m: ManifestInput): ModelManifest {
  const manifest: ModelManifest = {
    model: m.model,
    version: m.version,
    runtime: 'bearing_health',
    inputs: artifactInputs(artifact).map((i) => ({ name: i.name, unit: i.unit })),
    output: {
      meaning: 'robust deviation of bearing health indicators from this machine’s commissioning baseline',
      alertThreshold: artifact.scoring.threshold,
      uncertainLow: artifact.scoring.threshold * 0.7,
      uncertainHigh: artifact.scoring.threshold,
    },
    selfTest: [],
    trainingMetrics: m.trainingMetrics ?? {},
    lineage: m.lineage ?? {},
    reference: [],
    sequence: m.sequence,
    ...(m.description ? { description: m.description } : {}),
  };
  manifest.selfTest = selfTestVectors(new BearingHealthModel(manifest, artifact));
  return manifest;
}

/** The prior median, and the prior with each indicator in turn raised 4x (one alert per indicator family). */
function selfTestVectors(model: BearingHealthModel): SelfTestVector[] {
  const base = model.artifact.prior.median.map((m) => Math.exp(m));
  const vectors = [base];
  for (let i = 0; i < base.length; i += 3) vectors.push(base.map((v, j) => (j === i ? v * 4 : v)));
  return vectors.map((inputs) => ({
    inputs,
    expectedScore: model.scoreAgainstPrior(Float64Array.from(inputs)).score,
    tolerance: 1e-9,
  }));
}

/**
 * Runs the manifest's self-test vectors on a throwaway instance against the fleet prior, so the
 * vectors never enter a machine's commissioning baseline.
 */
export function selfTestBearingHealth(manifest: ModelManifest, artifactBytes: Uint8Array): SelfTestOutcome {
  return new BearingHealthModel(manifest, parseArtifact(artifactBytes)).selfTest(manifest.selfTest);
}

/**
 * The runtime's name in the registry's contract (proto enum `ModelRuntime`): manifest files are
 * proto3 JSON, as `mwctl models push --manifest` reads them. The agent calls it `bearing_health`.
 */
export const MANIFEST_FILE_RUNTIME = 'MODEL_RUNTIME_BEARING_HEALTH';

/** A manifest as `manifest.json` for `mwctl models push`: proto3 JSON, the runtime by its enum name. */
export function manifestFileText(manifest: ModelManifest): string {
  return `${JSON.stringify({ ...manifest, runtime: MANIFEST_FILE_RUNTIME }, null, 2)}\n`;
}

/**
 * Reads a `manifest.json` back into the agent's form. Files written before the runtime was named by
 * its enum (`"runtime": "bearing_health"`) read the same.
 * @throws ModelLoadError when it is not JSON or names another runtime.
 */
export function parseManifestFile(text: string): ModelManifest {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new ModelLoadError('bearing_health manifest file is not JSON', {}, { cause: err });
  }
  if (json.runtime !== MANIFEST_FILE_RUNTIME && json.runtime !== 'bearing_health') {
    throw new ModelLoadError(`manifest runtime ${String(json.runtime)} is not ${MANIFEST_FILE_RUNTIME}`, {
      runtime: json.runtime,
    });
  }
  return { ...json, runtime: 'bearing_health' } as unknown as ModelManifest;
}
