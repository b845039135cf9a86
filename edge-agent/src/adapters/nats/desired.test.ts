import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DesiredState, ModelRuntime, ModelStatePhase, SignedPayload } from '@millwright/proto';
import { describe, expect, it } from 'vitest';
import { IntegrityError } from '../../domain/errors.js';
import { decodeSignedPayload, desiredFromProto } from './desired.js';
import { PersistedSequence, phaseToProto } from './state-reporter.js';

const manifest = {
  model: 'press',
  version: '1.2.0',
  runtime: ModelRuntime.MODEL_RUNTIME_LOGISTIC,
  inputs: [{ name: 'rms', unit: 'mm/s' }],
  output: { meaning: 'p', alertThreshold: 0.5, uncertainLow: 0.4, uncertainHigh: 0.6, onnxOutput: '' },
  selfTest: [{ inputs: [1], expectedScore: 0.7, tolerance: 1e-6 }],
  trainingMetrics: { auc: 0.9 },
  lineage: { parentVersion: '1.1.0', datasetSnapshotId: '', trainingRunUrl: '', retrainingRequestId: '' },
  reference: [],
  sequence: 12,
  description: '',
};

describe('desired-state mapping', () => {
  it('carries the merged config through the wire as a plain object, and none when absent', () => {
    const wire = DesiredState.encode(
      DesiredState.fromPartial({ generation: 3, config: { alerts: { holdOffS: 30, resolveAfterNormal: 2 } } }),
    ).finish();
    expect(desiredFromProto(DesiredState.decode(wire)).config).toEqual({
      alerts: { holdOffS: 30, resolveAfterNormal: 2 },
    });
    expect(desiredFromProto(DesiredState.fromPartial({ generation: 3 })).config).toBeUndefined();
  });

  it('carries the capture policy with the rest of the desired state, and none when absent', () => {
    const capture = {
      enabled: true,
      uncertain: false,
      alerts: true,
      randomRate: 0.25,
      aroundLabelS: 30,
      includeRaw: true,
      includeFeatures: false,
      maxSamplesPerHour: 50,
      maxBytesPerHour: 1_000_000,
    };
    const wire = DesiredState.encode(DesiredState.fromPartial({ generation: 4, capture })).finish();
    expect(desiredFromProto(DesiredState.decode(wire)).capture).toEqual(capture);
    expect(desiredFromProto(DesiredState.fromPartial({ generation: 4 })).capture).toBeUndefined();
  });

  it('decodes a signed payload into a domain manifest', () => {
    const bytes = SignedPayload.encode({
      manifest,
      sha256: 'ab',
      sizeBytes: 3,
      rollback: true,
      rollbackFrom: '1.3.0',
      signedAtMs: 5,
    }).finish();
    const r = decodeSignedPayload(bytes);
    expect(r).toMatchObject({ sha256: 'ab', sizeBytes: 3, rollback: true, rollbackFrom: '1.3.0' });
    expect(r.manifest).toMatchObject({ runtime: 'logistic', sequence: 12, lineage: { parentVersion: '1.1.0' } });
    expect(r.manifest.output.onnxOutput).toBeUndefined();
  });

  it('refuses a payload without a manifest or with an unspecified runtime', () => {
    const none = SignedPayload.encode({
      manifest: undefined,
      sha256: '',
      sizeBytes: 0,
      rollback: false,
      rollbackFrom: '',
      signedAtMs: 0,
    });
    expect(() => decodeSignedPayload(none.finish())).toThrow(IntegrityError);
    const unspecified = SignedPayload.encode({
      manifest: { ...manifest, runtime: ModelRuntime.MODEL_RUNTIME_UNSPECIFIED },
      sha256: '',
      sizeBytes: 0,
      rollback: false,
      rollbackFrom: '',
      signedAtMs: 0,
    });
    expect(() => decodeSignedPayload(unspecified.finish())).toThrow(/runtime 0 is not known/);
    expect(() => decodeSignedPayload(Uint8Array.of(0xff, 0xff, 0xff))).toThrow(IntegrityError);
  });

  it('maps desired state with defaults for an absent policy and treats an empty model as none', () => {
    const d = desiredFromProto(
      DesiredState.fromPartial({
        generation: 7,
        rolloutId: 'ro',
        model: { model: 'press', version: '1.2.0', artifactUrl: 'http://a', sizeBytes: 3 },
        shadow: { model: '', version: '' },
      }),
    );
    expect(d).toMatchObject({ generation: 7, rolloutId: 'ro', shadow: undefined });
    expect(d.model).toMatchObject({ model: 'press', url: 'http://a', signature: undefined });
    expect(d.rules).toEqual({
      condition: '',
      force: false,
      windows: [],
      timeZone: '',
      watchdogS: 0,
      maxLatencyUs: 0,
      maxAlertRate: 0,
    });
    expect(d.resignatures).toBeUndefined();
  });

  it('maps the re-signatures of running and fallback versions', () => {
    const signature = { keyId: 'abcdabcdabcdabcd', signature: 'c2ln', payload: 'cGF5' };
    const wire = DesiredState.encode(
      DesiredState.fromPartial({ generation: 2, resignatures: [{ model: 'press', version: '1.0.0', signature }] }),
    ).finish();
    expect(desiredFromProto(DesiredState.decode(wire)).resignatures).toEqual([
      { model: 'press', version: '1.0.0', signature },
    ]);
  });
});

describe('state reports', () => {
  it('maps every phase to its proto value', () => {
    expect(phaseToProto('rolled_back')).toBe(ModelStatePhase.MODEL_STATE_PHASE_ROLLED_BACK);
    expect(phaseToProto('waiting_window')).toBe(ModelStatePhase.MODEL_STATE_PHASE_WAITING_WINDOW);
  });

  it('keeps report_seq increasing across restarts', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'mw-seq-')), 'update', 'report-seq');
    const a = new PersistedSequence(path);
    const first = [await a.take(), await a.take(), await a.take()];
    expect(first).toEqual([1, 2, 3]);
    const b = new PersistedSequence(path);
    expect(await b.take()).toBeGreaterThan(3);
  });
});
