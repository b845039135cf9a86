/**
 * Runs the agents' own runtimes on a pushed artifact (ADR 0001): the only module of the control
 * plane that imports `@millwright/edge-agent`.
 */
import { ModelLoadError } from '@millwright/edge-agent/domain/errors.js';
import type { ModelManifest } from '@millwright/edge-agent/domain/model.js';
import { validateManifest } from '@millwright/edge-agent/inference/manifest.js';
import type { RuntimeRegistry } from '@millwright/edge-agent/inference/registry.js';
import type { LoadedModel, SelfTestOutcome } from '@millwright/edge-agent/inference/runtime.js';
import { runSelfTest } from '@millwright/edge-agent/inference/selftest.js';
import { createAgentRuntimeRegistry } from '@millwright/edge-agent/runtimes.js';
import type { Manifest } from '../../registry/domain.js';
import type { ArtifactVerifier, Verdict } from '../../registry/ports.js';

/** Loads the artifact with the runtime the manifest names and runs each self-test vector on it. */
export class EdgeRuntimeVerifier implements ArtifactVerifier {
  private readonly runtimes: RuntimeRegistry;

  constructor(runtimes: RuntimeRegistry = createAgentRuntimeRegistry()) {
    this.runtimes = runtimes;
  }

  async verify(manifest: Manifest, artifact: Uint8Array): Promise<Verdict> {
    const edge = toEdgeManifest(manifest);
    const invalid = manifestVerdict(edge);
    if (invalid) return invalid;
    let model: LoadedModel;
    try {
      model = await this.runtimes.loadModel(edge, artifact);
    } catch (err) {
      if (err instanceof ModelLoadError) return artifactVerdict(edge, err);
      throw err;
    }
    try {
      return await this.selfTest(edge, model);
    } finally {
      model.dispose();
    }
  }

  /** One vector at a time, so the refusal names the failing vector's index. */
  private async selfTest(edge: ModelManifest, model: LoadedModel): Promise<Verdict> {
    for (const [i, vector] of edge.selfTest.entries()) {
      // Stateful runtimes test without touching their state (LoadedModel.selfTest).
      const outcome: SelfTestOutcome = await runSelfTest(model, [vector]);
      if (!outcome.passed) {
        return {
          ok: false,
          field: `manifest.self_test[${i}]`,
          message: `self-test failed: ${outcome.failures.join('; ')}`,
        };
      }
    }
    return { ok: true };
  }
}

/** The agent's own manifest rules (the registry checks most of them earlier, with better messages). */
function manifestVerdict(edge: ModelManifest): Verdict | undefined {
  try {
    validateManifest(edge);
    return undefined;
  } catch (err) {
    if (!(err instanceof ModelLoadError)) throw err;
    const issues = Array.isArray(err.details.issues) ? (err.details.issues as unknown[]).map(String) : [];
    return { ok: false, field: fieldOfIssue(issues[0] ?? '') ?? 'manifest', message: err.message };
  }
}

/** The manifest is valid, so a load error is about the artifact: its width, or its format. */
function artifactVerdict(edge: ModelManifest, err: ModelLoadError): Verdict {
  if (typeof err.details.what === 'string') return { ok: false, field: 'manifest.inputs', message: err.message };
  return {
    ok: false,
    field: 'manifest.runtime',
    message: `the artifact does not load as ${edge.runtime}: ${err.message}`,
  };
}

/** `selfTest.0.inputs: has 2 values` -> `manifest.self_test[0].inputs`; undefined for free text. */
export function fieldOfIssue(issue: string): string | undefined {
  const path = /^([A-Za-z0-9_.]+): /.exec(issue)?.[1];
  if (!path) return undefined;
  const parts = path
    .split('.')
    .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`));
  return `manifest${parts.join('')}`;
}

function toEdgeManifest(m: Manifest): ModelManifest {
  const lineage = Object.fromEntries(Object.entries(m.lineage).filter(([, v]) => v !== ''));
  return {
    model: m.model,
    version: m.version,
    runtime: m.runtime,
    inputs: m.inputs.map((f) => ({ ...f })),
    output: {
      meaning: m.output.meaning,
      alertThreshold: m.output.alertThreshold,
      uncertainLow: m.output.uncertainLow,
      uncertainHigh: m.output.uncertainHigh,
      ...(m.output.onnxOutput ? { onnxOutput: m.output.onnxOutput } : {}),
    },
    selfTest: m.selfTest.map((v) => ({ ...v, inputs: [...v.inputs] })),
    trainingMetrics: { ...m.trainingMetrics },
    lineage,
    reference: m.reference.map((r) => ({ ...r })),
    sequence: m.sequence,
    ...(m.description ? { description: m.description } : {}),
  };
}
