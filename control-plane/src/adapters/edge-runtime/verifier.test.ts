import { serializeArtifact } from '@millwright/edge-agent/pack/bearing/artifact.js';
import { defaultArtifact, defaultIndicatorConfig } from '@millwright/edge-agent/pack/bearing/defaults.js';
import { SKF_6205 } from '@millwright/edge-agent/pack/bearing/geometry.js';
import { buildManifest } from '@millwright/edge-agent/pack/bearing/manifest.js';
import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../registry/domain.js';
import { EdgeRuntimeVerifier, fieldOfIssue } from './verifier.js';

const logistic = new TextEncoder().encode(JSON.stringify({ weights: [1, -1], intercept: 0 }));

function manifest(over: Partial<Manifest> = {}): Manifest {
  return {
    model: 'pump',
    version: '1',
    runtime: 'logistic',
    inputs: [
      { name: 'a', unit: '' },
      { name: 'b', unit: '' },
    ],
    output: { meaning: '', alertThreshold: 0.5, uncertainLow: 0, uncertainHigh: 0, onnxOutput: '' },
    selfTest: [
      { inputs: [1, 1], expectedScore: 0.5, tolerance: 1e-9 },
      { inputs: [2, 0], expectedScore: 1 / (1 + Math.exp(-2)), tolerance: 1e-9 },
    ],
    trainingMetrics: {},
    lineage: { parentVersion: '', datasetSnapshotId: '', trainingRunUrl: '', retrainingRequestId: '' },
    reference: [],
    sequence: 0,
    description: '',
    ...over,
  };
}

describe('EdgeRuntimeVerifier', () => {
  const verifier = new EdgeRuntimeVerifier();

  it('accepts an artifact whose self-test vectors pass', async () => {
    expect(await verifier.verify(manifest(), logistic)).toEqual({ ok: true });
  });

  it('names the failing self-test vector', async () => {
    const selfTest = [...manifest().selfTest, { inputs: [0, 0], expectedScore: 0.9, tolerance: 0.01 }];
    const verdict = await verifier.verify(manifest({ selfTest }), logistic);
    expect(verdict).toMatchObject({ ok: false, field: 'manifest.self_test[2]' });
  });

  it('names the inputs when the artifact is wider than the manifest', async () => {
    const narrow = manifest({
      inputs: [{ name: 'a', unit: '' }],
      selfTest: [{ inputs: [1], expectedScore: 0.5, tolerance: 1 }],
    });
    const verdict = await verifier.verify(narrow, logistic);
    expect(verdict).toMatchObject({ ok: false, field: 'manifest.inputs' });
  });

  it('names the runtime when the artifact is not in its format', async () => {
    const verdict = await verifier.verify(manifest({ runtime: 'xgboost_json' }), logistic);
    expect(verdict).toMatchObject({ ok: false, field: 'manifest.runtime' });
  });

  it('verifies a bearing_health artifact against its fleet prior', async () => {
    const artifact = defaultArtifact({
      channels: ['de'],
      shaftHz: 29.95,
      indicators: defaultIndicatorConfig(12_000, 4096, SKF_6205),
    });
    const edge = buildManifest(artifact, { model: 'pump', version: '1', sequence: 0 });
    const m = manifest({
      runtime: 'bearing_health',
      inputs: edge.inputs,
      output: { ...manifest().output, alertThreshold: edge.output.alertThreshold },
      selfTest: edge.selfTest,
    });
    const bytes = serializeArtifact(artifact);
    expect(await verifier.verify(m, bytes)).toEqual({ ok: true });
    const wrong = m.selfTest.map((v, i) => (i === 1 ? { ...v, expectedScore: v.expectedScore + 1 } : v));
    expect(await verifier.verify({ ...m, selfTest: wrong }, bytes)).toMatchObject({
      ok: false,
      field: 'manifest.self_test[1]',
    });
  });
});

describe('fieldOfIssue', () => {
  it('turns an edge manifest issue path into the proto field path', () => {
    expect(fieldOfIssue('selfTest.0.inputs: has 2 values')).toBe('manifest.self_test[0].inputs');
    expect(fieldOfIssue('output.alertThreshold: must be finite')).toBe('manifest.output.alert_threshold');
    expect(fieldOfIssue('bearing manifest and artifact disagree')).toBeUndefined();
  });
});
