/** What the retraining handoff needs from the outside world; adapters implement these. */
import type { FeatureReference, Manifest } from '../registry/domain.js';
import type {
  DatasetObject,
  LabelKind,
  RequestStatus,
  RetrainingPolicy,
  RetrainingRequest,
  Snapshot,
  SnapshotFilter,
} from './domain.js';

/** A record the dataset projector turns into dataset rows, operator labels or histogram counts. */
export interface ProjectableRecord {
  seq: number;
  tsMs: number;
  agentId: string;
  siteId: string;
  kind: 'sample' | 'label' | 'histograms';
  /** The record as proto3 JSON (records.body). */
  body: Record<string, unknown>;
}

export interface PendingStream {
  streamId: number;
  agentId: string;
  sealedSeq: number;
  committedSeq: number;
}

export interface LabelRow {
  predictionId: string;
  agentId: string;
  kind: LabelKind;
  note: string;
  operator: string;
  source: string;
  atMs: number;
}

export interface HistogramDelta {
  model: string;
  version: string;
  siteId: string;
  feature: string;
  hourMs: number;
  counts: number[];
}

export interface Projection {
  streamId: number;
  /** The cursor the projection started from (compare-and-set: two leaders never both apply). */
  fromSeq: number;
  toSeq: number;
  labels: LabelRow[];
  objects: DatasetObject[];
  histograms: HistogramDelta[];
}

export interface RequestQuery {
  model: string;
  status: RequestStatus | undefined;
  limit: number;
  offset: number;
}

/** Postgres in production: every method is one statement or one transaction. */
export interface RetrainingStore {
  /** Streams whose committed records go beyond what was projected. */
  pendingStreams(limit: number): Promise<PendingStream[]>;
  /** Sample, label and histogram records with afterSeq < seq ≤ upToSeq, in seq order. */
  readProjectable(streamId: number, afterSeq: number, upToSeq: number, limit: number): Promise<ProjectableRecord[]>;
  /** The latest label per prediction id. */
  labelsFor(predictionIds: readonly string[]): Promise<Map<string, { kind: LabelKind; note: string }>>;
  /** Applies a projection and moves the cursor; false when the cursor moved meanwhile. */
  commitProjection(p: Projection): Promise<boolean>;
  insertLabel(l: LabelRow): Promise<number>;
  listObjects(f: SnapshotFilter): Promise<DatasetObject[]>;
  /** Idempotent: the same id is stored once. */
  saveSnapshot(s: Snapshot): Promise<void>;
  getSnapshot(id: string): Promise<{ id: string; manifestKey: string; createdAtMs: number } | undefined>;
  createRequest(r: RetrainingRequest): Promise<void>;
  getRequest(id: string): Promise<RetrainingRequest | undefined>;
  listRequests(q: RequestQuery): Promise<{ requests: RetrainingRequest[]; total: number }>;
  lastRequest(model: string): Promise<RetrainingRequest | undefined>;
  /** Leases the given (or the oldest) pending request, or one whose lease ran out. */
  claim(c: { id: string; worker: string; nowMs: number; leaseMs: number }): Promise<RetrainingRequest | undefined>;
  /** Applies `patch` when the request's status is one of `when`; undefined otherwise. */
  updateRequest(
    id: string,
    when: readonly RequestStatus[],
    patch: Partial<RetrainingRequest>,
  ): Promise<RetrainingRequest | undefined>;
  getPolicy(model: string): Promise<RetrainingPolicy | undefined>;
  setPolicy(p: RetrainingPolicy): Promise<void>;
  listPolicies(): Promise<RetrainingPolicy[]>;
  /** Summed histogram counts per (version, site, feature) over hours in [fromMs, toMs). */
  histogramTotals(q: {
    model: string;
    version: string;
    siteId: string;
    fromMs: number;
    toMs: number;
  }): Promise<{ version: string; siteId: string; feature: string; counts: number[] }[]>;
  /** Cleaning counts of the site's agents (records kind 'cleaning'). */
  quality(q: { siteId: string; fromMs: number; toMs: number }): Promise<{
    points: number;
    spikes: number;
    stuck: number;
    driftChannels: number;
  }>;
  /** Inferences and alerts of a version at a site (records kind 'model_stats'). */
  modelStats(q: { version: string; siteId: string; fromMs: number; toMs: number }): Promise<{
    inferences: number;
    alerts: number;
  }>;
  /** Labels on alert predictions of the version at the site. */
  labelPrecision(q: { version: string; siteId: string; fromMs: number; toMs: number }): Promise<{
    confirmed: number;
    falseAlarms: number;
  }>;
  /** Labelled dataset rows of the model sealed after `sinceMs`. */
  labelledSince(model: string, sinceMs: number): Promise<number>;
}

/** Dataset parts and snapshot manifests (S3). */
export interface DatasetBlobStore {
  put(key: string, bytes: Uint8Array, contentType: string): Promise<void>;
  /** undefined when the object does not exist. */
  get(key: string): Promise<Uint8Array | undefined>;
}

export interface VersionInfo {
  model: string;
  version: string;
  manifest: Manifest;
}

/** The model registry as the retraining handoff sees it. */
export interface VersionCatalog {
  /** @throws NotFoundError */
  getVersion(model: string, ref: string): Promise<VersionInfo>;
  /** The highest-sequence version, or undefined for a model without versions. */
  latestVersion(model: string): Promise<VersionInfo | undefined>;
}

export interface RetrainingEventOut {
  request: RetrainingRequest;
  snapshot: Snapshot;
  base: VersionInfo | undefined;
}

/** NATS `mw.v1.cp.events.retraining` (RetrainingEvent). */
export interface RetrainingEventPublisher {
  publish(e: RetrainingEventOut): Promise<void>;
}

/** The policy's webhook: POSTs the event as JSON. */
export interface RetrainingWebhook {
  post(url: string, e: RetrainingEventOut): Promise<void>;
}

/**
 * Starts a canary rollout of a completed version (the rollout controller, control-plane/src/rollouts/).
 * @throws UnavailableError while the rollout controller is not wired in.
 */
export interface CanaryStarter {
  start(c: { model: string; version: string; baseVersion: string; percent: number; reason: string }): Promise<{
    rolloutId: string;
  }>;
}

export type { FeatureReference };
