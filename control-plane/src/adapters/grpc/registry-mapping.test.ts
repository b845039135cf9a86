import { type ArtifactManifest, ModelRuntime, SignedPayload } from '@millwright/proto';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../domain/errors.js';
import { encodeSignedPayload, manifestFromPb, manifestToPb } from './registry-mapping.js';

const pb: ArtifactManifest = {
  model: 'pump',
  version: '1',
  runtime: ModelRuntime.MODEL_RUNTIME_XGBOOST_JSON,
  inputs: [{ name: 'rms', unit: 'mm/s' }],
  output: { meaning: 'p', alertThreshold: 0.7, uncertainLow: 0.4, uncertainHigh: 0.6, onnxOutput: '' },
  selfTest: [{ inputs: [1], expectedScore: 0.2, tolerance: 0.01 }],
  trainingMetrics: { auc: 0.9 },
  lineage: { parentVersion: '0', datasetSnapshotId: 's', trainingRunUrl: 'u', retrainingRequestId: '' },
  reference: [{ feature: 'rms', binEdges: [0, 1], binFractions: [1], mean: 0.5, std: 0.1 }],
  sequence: 0,
  description: 'd',
};

describe('registry proto mapping', () => {
  it('round-trips a manifest', () => {
    expect(manifestToPb(manifestFromPb(pb))).toEqual(pb);
  });

  it('refuses an unspecified runtime and a missing manifest or output, naming the field', () => {
    const field = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidArgumentError);
        return (err as InvalidArgumentError).details.field;
      }
      return undefined;
    };
    expect(field(() => manifestFromPb({ ...pb, runtime: ModelRuntime.MODEL_RUNTIME_UNSPECIFIED }))).toBe(
      'manifest.runtime',
    );
    expect(field(() => manifestFromPb(undefined))).toBe('manifest');
    expect(field(() => manifestFromPb({ ...pb, output: undefined }))).toBe('manifest.output');
  });

  it('signs the SignedPayload protobuf, decodable by agents', () => {
    const bytes = encodeSignedPayload({
      manifest: { ...manifestFromPb(pb), sequence: 4 },
      sha256: 'ab',
      sizeBytes: 9,
      signedAtMs: 5,
    });
    expect(SignedPayload.decode(bytes)).toMatchObject({
      sha256: 'ab',
      sizeBytes: 9,
      signedAtMs: 5,
      manifest: { sequence: 4 },
    });
  });
});
