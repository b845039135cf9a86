/** Mappers between the registry's domain types and the millwright.v1 model messages. */
import {
  type AliasChange as AliasChangePb,
  type ArtifactManifest,
  type Model as ModelPb,
  ModelRuntime,
  type ModelVersion as ModelVersionPb,
  SignedPayload,
  TrustBundlePayload,
  type TrustKey as TrustKeyPb,
} from '@millwright/proto';
import { InvalidArgumentError } from '../../domain/errors.js';
import type {
  AliasChange,
  Manifest,
  Model,
  ModelVersion,
  Runtime,
  SignedPayloadData,
  TrustBundleContent,
  TrustKey,
} from '../../registry/domain.js';

const RUNTIME_TO_PB: Record<Runtime, ModelRuntime> = {
  linear: ModelRuntime.MODEL_RUNTIME_LINEAR,
  logistic: ModelRuntime.MODEL_RUNTIME_LOGISTIC,
  xgboost_json: ModelRuntime.MODEL_RUNTIME_XGBOOST_JSON,
  mahalanobis: ModelRuntime.MODEL_RUNTIME_MAHALANOBIS,
  bearing_health: ModelRuntime.MODEL_RUNTIME_BEARING_HEALTH,
  onnx: ModelRuntime.MODEL_RUNTIME_ONNX,
};

function runtimeFromPb(r: ModelRuntime): Runtime {
  const found = (Object.entries(RUNTIME_TO_PB) as [Runtime, ModelRuntime][]).find(([, v]) => v === r);
  if (!found) throw new InvalidArgumentError('manifest.runtime', r ? `unknown runtime ${r}` : 'required');
  return found[0];
}

/**
 * Checks the required parts of a manifest from the wire and turns it into the domain type.
 * @throws InvalidArgumentError for a missing manifest, output or runtime.
 */
export function manifestFromPb(pb: ArtifactManifest | undefined): Manifest {
  if (!pb) throw new InvalidArgumentError('manifest', 'required as the first message');
  if (!pb.output) throw new InvalidArgumentError('manifest.output', 'required');
  return {
    model: pb.model,
    version: pb.version,
    runtime: runtimeFromPb(pb.runtime),
    inputs: pb.inputs.map((f) => ({ name: f.name, unit: f.unit })),
    output: { ...pb.output },
    selfTest: pb.selfTest.map((v) => ({
      inputs: [...v.inputs],
      expectedScore: v.expectedScore,
      tolerance: v.tolerance,
    })),
    trainingMetrics: { ...pb.trainingMetrics },
    lineage: {
      parentVersion: pb.lineage?.parentVersion ?? '',
      datasetSnapshotId: pb.lineage?.datasetSnapshotId ?? '',
      trainingRunUrl: pb.lineage?.trainingRunUrl ?? '',
      retrainingRequestId: pb.lineage?.retrainingRequestId ?? '',
    },
    reference: pb.reference.map((r) => ({ ...r, binEdges: [...r.binEdges], binFractions: [...r.binFractions] })),
    sequence: pb.sequence,
    description: pb.description,
  };
}

export function manifestToPb(m: Manifest): ArtifactManifest {
  return {
    model: m.model,
    version: m.version,
    runtime: RUNTIME_TO_PB[m.runtime],
    inputs: m.inputs.map((f) => ({ name: f.name, unit: f.unit })),
    output: { ...m.output },
    selfTest: m.selfTest.map((v) => ({ ...v, inputs: [...v.inputs] })),
    trainingMetrics: { ...m.trainingMetrics },
    lineage: { ...m.lineage },
    reference: m.reference.map((r) => ({ ...r })),
    sequence: m.sequence,
    description: m.description,
  };
}

/** The canonical bytes the registry signs: the SignedPayload protobuf. */
export function encodeSignedPayload(p: SignedPayloadData): Uint8Array {
  return SignedPayload.encode({
    manifest: manifestToPb(p.manifest),
    sha256: p.sha256,
    sizeBytes: p.sizeBytes,
    rollback: p.rollback ?? false,
    rollbackFrom: p.rollbackFrom ?? '',
    signedAtMs: p.signedAtMs,
  }).finish();
}

export function modelToPb(m: Model): ModelPb {
  return { ...m, aliases: { ...m.aliases } };
}

export function versionToPb(v: ModelVersion): ModelVersionPb {
  return {
    model: v.model,
    version: v.version,
    manifest: manifestToPb(v.manifest),
    sha256: v.sha256,
    sizeBytes: v.sizeBytes,
    signature: { ...v.signature },
    artifactKey: v.artifactKey,
    createdAtMs: v.createdAtMs,
    createdBy: v.createdBy,
    aliases: [...v.aliases],
  };
}

export function aliasChangeToPb(c: AliasChange): AliasChangePb {
  return { ...c };
}

export function trustKeyToPb(k: TrustKey): TrustKeyPb {
  return {
    keyId: k.keyId,
    publicKey: k.publicKey,
    active: k.active,
    createdAtMs: k.createdAtMs,
    revokedAtMs: k.revokedAtMs ?? 0,
    revokedReason: k.revokedReason ?? '',
  };
}

/** The canonical bytes a trust bundle signs: the TrustBundlePayload protobuf. */
export function encodeTrustBundlePayload(c: TrustBundleContent): Uint8Array {
  return TrustBundlePayload.encode({
    sequence: c.sequence,
    keys: c.keys.map(trustKeyToPb),
    revokedKeyIds: c.revokedKeyIds,
    issuedAtMs: c.issuedAtMs,
  }).finish();
}
