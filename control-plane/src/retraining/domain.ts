/** Retraining handoff domain: dataset objects, snapshots, drift, requests and policies. No I/O. */

export const LABEL_KINDS = ['confirmed_failure', 'false_alarm', 'normal'] as const;
export type LabelKind = (typeof LABEL_KINDS)[number];

export function isLabelKind(s: string): s is LabelKind {
  return (LABEL_KINDS as readonly string[]).includes(s);
}

/** Which captured samples a snapshot takes. Days are UTC; an object is in when its day overlaps [fromMs, toMs]. */
export interface SnapshotFilter {
  model: string;
  /** Empty: every version of the model. */
  version: string;
  /** Empty: every site. */
  siteIds: string[];
  fromMs: number;
  toMs: number;
  /** Only objects holding at least one labelled row. */
  labelledOnly: boolean;
}

/** A sealed dataset part in S3 (gzip NDJSON, one row per captured sample). */
export interface DatasetObject {
  key: string;
  model: string;
  version: string;
  siteId: string;
  day: string;
  rows: number;
  sha256: string;
  sizeBytes: number;
  labelled: number;
  labelCounts: Record<string, number>;
}

export interface SnapshotObject {
  key: string;
  sha256: string;
  rows: number;
  sizeBytes: number;
}

/** The immutable manifest; its canonical JSON bytes are stored at snapshots/<id>.json, id = sha256(bytes). */
export interface SnapshotManifest {
  format: 1;
  filter: SnapshotFilter;
  objects: SnapshotObject[];
  labelSummary: Record<string, number>;
  featureSchema: { name: string; unit: string }[];
  totalRows: number;
}

export interface Snapshot {
  id: string;
  manifest: SnapshotManifest;
  manifestKey: string;
  createdAtMs: number;
}

export type RequestStatus = 'pending' | 'claimed' | 'completed' | 'failed' | 'cancelled';
export type TriggerKind = 'drift' | 'labels' | 'schedule' | 'manual';

export interface RetrainingRequest {
  id: string;
  model: string;
  baseVersion: string;
  snapshotId: string;
  trigger: TriggerKind;
  reason: string;
  status: RequestStatus;
  claimedBy: string;
  claimExpiresAtMs: number;
  progress: number;
  progressNote: string;
  resultVersion: string;
  createdAtMs: number;
  updatedAtMs: number;
}

/** Per model; zero values disable a trigger (see retraining.proto RetrainingPolicy). */
export interface RetrainingPolicy {
  model: string;
  driftPsi: number;
  driftKs: number;
  driftMinSamples: number;
  driftWindowH: number;
  newLabels: number;
  cron: string;
  snapshotDays: number;
  labelledOnly: boolean;
  baseAlias: string;
  cooldownS: number;
  webhookUrl: string;
  autoCanary: boolean;
  canaryPercent: number;
  updatedAtMs: number;
  updatedBy: string;
}

export function defaultPolicy(model: string): RetrainingPolicy {
  return {
    model,
    driftPsi: 0.25,
    driftKs: 0,
    driftMinSamples: 200,
    driftWindowH: 24,
    newLabels: 0,
    cron: '',
    snapshotDays: 30,
    labelledOnly: false,
    baseAlias: '',
    cooldownS: 24 * 3600,
    webhookUrl: '',
    autoCanary: false,
    canaryPercent: 5,
    updatedAtMs: 0,
    updatedBy: '',
  };
}

export interface FeatureDrift {
  feature: string;
  psi: number;
  ks: number;
  samples: number;
}

export interface DriftReport {
  model: string;
  version: string;
  siteId: string;
  fromMs: number;
  toMs: number;
  features: FeatureDrift[];
  spikeRate: number;
  stuckRate: number;
  calibrationDriftChannels: number;
  alertRate: number;
  precision: number;
  labelledAlerts: number;
  predictions: number;
}

/** One row of a dataset part (NDJSON), as training tools read it. */
export interface DatasetRow {
  sample_id: string;
  prediction_id: string;
  agent_id: string;
  site_id: string;
  asset: string;
  ts_ms: number;
  window_start_ms: number;
  window_end_ms: number;
  model: string;
  model_version: string;
  capture_reason: string;
  score: number;
  decision: 'alert' | 'normal';
  features: Record<string, number>;
  label: LabelKind | null;
  label_note: string;
  raw: {
    channel: string;
    unit: string;
    sample_rate_hz: number;
    start_ms: number;
    key: string;
    offset: number;
    bytes: number;
  }[];
}
