/** Model registry domain: models, immutable versions, aliases, trust keys and the rules on their names. */
import { InvalidArgumentError } from '../domain/errors.js';

export type Runtime = 'linear' | 'logistic' | 'xgboost_json' | 'mahalanobis' | 'bearing_health' | 'onnx';

export interface FeatureSpec {
  name: string;
  unit: string;
}

export interface SelfTestVector {
  inputs: number[];
  expectedScore: number;
  tolerance: number;
}

export interface OutputSpec {
  meaning: string;
  alertThreshold: number;
  uncertainLow: number;
  uncertainHigh: number;
  /** ONNX only: output tensor holding the score ('' when the model has one output). */
  onnxOutput: string;
}

export interface Lineage {
  parentVersion: string;
  datasetSnapshotId: string;
  trainingRunUrl: string;
  retrainingRequestId: string;
}

export interface FeatureReference {
  feature: string;
  binEdges: number[];
  binFractions: number[];
  mean: number;
  std: number;
}

/** What a version promises about its artifact; signed together with the artifact digest. */
export interface Manifest {
  model: string;
  version: string;
  runtime: Runtime;
  inputs: FeatureSpec[];
  output: OutputSpec;
  selfTest: SelfTestVector[];
  trainingMetrics: Record<string, number>;
  lineage: Lineage;
  reference: FeatureReference[];
  /** Assigned by the registry at registration: latest sequence of the model + 1. */
  sequence: number;
  description: string;
}

export interface Model {
  name: string;
  description: string;
  createdAtMs: number;
  /** alias -> version */
  aliases: Record<string, string>;
  latestSequence: number;
}

/** The stored signature: key id, base64 raw ed25519 signature, base64 signed bytes. */
export interface VersionSignature {
  keyId: string;
  signature: string;
  payload: string;
}

export interface ModelVersion {
  model: string;
  version: string;
  sequence: number;
  manifest: Manifest;
  sha256: string;
  sizeBytes: number;
  signature: VersionSignature;
  artifactKey: string;
  createdAtMs: number;
  createdBy: string;
  /** Aliases currently pointing at this version. */
  aliases: string[];
}

/** What the registry signs (encoded as the SignedPayload protobuf by an adapter). */
export interface SignedPayloadData {
  manifest: Manifest;
  sha256: string;
  sizeBytes: number;
  signedAtMs: number;
  /** Set only on an explicit rollback: lets agents move to this older version from `rollbackFrom`. */
  rollback?: boolean;
  rollbackFrom?: string;
}

export interface AliasChange {
  model: string;
  alias: string;
  /** '' when the alias was created. */
  fromVersion: string;
  toVersion: string;
  actor: string;
  reason: string;
  atMs: number;
}

export interface TrustKey {
  keyId: string;
  /** Raw 32-byte ed25519 public key, base64. */
  publicKey: string;
  /** True for the key currently signing; inactive keys stay trusted for versions they signed. */
  active: boolean;
  createdAtMs: number;
  /** Set once revoked: agents refuse artifacts and trust bundles signed by the key. */
  revokedAtMs?: number;
  revokedReason?: string;
}

/** A signed trust bundle as stored and delivered (base64 strings; the payload is never re-encoded). */
export interface TrustBundleData {
  sequence: number;
  /** Base64 of the encoded TrustBundlePayload. */
  payload: string;
  /** Base64 raw ed25519 signatures over TRUST_BUNDLE_CONTEXT + payload, one per signing key. */
  signatures: { keyId: string; signature: string }[];
}

/** What a trust bundle says, before it is encoded and signed. */
export interface TrustBundleContent {
  sequence: number;
  /** Every key that is not revoked; `active` marks the one signing new versions. */
  keys: TrustKey[];
  revokedKeyIds: string[];
  issuedAtMs: number;
}

export type { Caller } from '../audit/ports.js';

export interface Page {
  limit: number;
  /** Opaque position after which the next page starts (decoded from a page token). */
  after?: string;
}

const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
const VERSION = /^[A-Za-z0-9._-]{1,64}$/;
const ALIAS = /^[a-z][a-z0-9_-]{0,31}$/;
export const MAX_REASON_CHARS = 1000;
export const MAX_DESCRIPTION_CHARS = 4000;

/** Model names are safe as S3 key segments and NATS tokens: `[A-Za-z0-9][A-Za-z0-9_-]{0,62}`. */
export function checkModelName(field: string, name: string): void {
  if (!name) throw new InvalidArgumentError(field, 'required');
  if (!MODEL_NAME.test(name)) throw new InvalidArgumentError(field, `must match ${MODEL_NAME.source}`);
}

/** Versions: `[A-Za-z0-9._-]{1,64}`, and not only dots (they become an S3 key segment). */
export function checkVersion(field: string, version: string): void {
  if (!version) throw new InvalidArgumentError(field, 'required');
  if (!VERSION.test(version) || /^\.+$/.test(version)) {
    throw new InvalidArgumentError(field, `must match ${VERSION.source} and not be only dots`);
  }
}

/** Aliases: lower case `[a-z][a-z0-9_-]{0,31}`, e.g. production, candidate. */
export function checkAlias(field: string, alias: string): void {
  if (!alias) throw new InvalidArgumentError(field, 'required');
  if (!ALIAS.test(alias)) throw new InvalidArgumentError(field, `must match ${ALIAS.source}`);
}

/** Versions accept either a version id or an alias; both patterns allow it. */
export function checkVersionOrAlias(field: string, ref: string): void {
  if (!ref) throw new InvalidArgumentError(field, 'required');
  if (!VERSION.test(ref) && !ALIAS.test(ref))
    throw new InvalidArgumentError(field, 'is neither a version nor an alias');
}

export function checkReason(field: string, reason: string): void {
  if (!reason.trim()) throw new InvalidArgumentError(field, 'required: say why the alias moves');
  if (reason.length > MAX_REASON_CHARS) throw new InvalidArgumentError(field, `at most ${MAX_REASON_CHARS} characters`);
}

/** S3 key of a verified artifact: the digest makes the key a content address. */
export function artifactKey(model: string, version: string, sha256: string): string {
  return `artifacts/${model}/${version}/${sha256}`;
}

/** S3 key an upload streams to before its digest is known and its self-test has passed. */
export function uploadKey(model: string, version: string, uploadId: string): string {
  return `uploads/${model}/${version}/${uploadId}`;
}
