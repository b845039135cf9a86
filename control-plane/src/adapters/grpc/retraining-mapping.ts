import {
  type DatasetSnapshot,
  type DriftReport as DriftReportPb,
  type RetrainingEvent,
  type RetrainingPolicy as RetrainingPolicyPb,
  type RetrainingRequest as RetrainingRequestPb,
  RetrainingStatus,
  type SnapshotFilter as SnapshotFilterPb,
} from '@millwright/proto';
import { InvalidArgumentError } from '../../domain/errors.js';
import type {
  DriftReport,
  RequestStatus,
  RetrainingPolicy,
  RetrainingRequest,
  Snapshot,
  SnapshotFilter,
} from '../../retraining/domain.js';
import type { RetrainingEventOut } from '../../retraining/ports.js';
import { manifestToPb } from './registry-mapping.js';

const STATUS: Record<RequestStatus, RetrainingStatus> = {
  pending: RetrainingStatus.RETRAINING_STATUS_PENDING,
  claimed: RetrainingStatus.RETRAINING_STATUS_CLAIMED,
  completed: RetrainingStatus.RETRAINING_STATUS_COMPLETED,
  failed: RetrainingStatus.RETRAINING_STATUS_FAILED,
  cancelled: RetrainingStatus.RETRAINING_STATUS_CANCELLED,
};

/** UNSPECIFIED means "any status" in list filters. */
export function statusFromPb(s: RetrainingStatus): RequestStatus | undefined {
  const found = (Object.entries(STATUS) as [RequestStatus, RetrainingStatus][]).find(([, v]) => v === s);
  if (!found && s !== RetrainingStatus.RETRAINING_STATUS_UNSPECIFIED)
    throw new InvalidArgumentError('status', `unknown ${s}`);
  return found?.[0];
}

export function filterFromPb(f: SnapshotFilterPb | undefined): SnapshotFilter | undefined {
  if (!f) return undefined;
  return {
    model: f.model,
    version: f.version,
    siteIds: [...f.siteIds],
    fromMs: f.fromMs,
    toMs: f.toMs,
    labelledOnly: f.labelledOnly,
  };
}

export function snapshotToPb(s: Snapshot): DatasetSnapshot {
  const m = s.manifest;
  return {
    id: s.id,
    filter: { ...m.filter },
    objects: m.objects.map((o) => ({ key: o.key, sha256: o.sha256, rows: o.rows, sizeBytes: o.sizeBytes })),
    labelSummary: { ...m.labelSummary },
    featureSchema: m.featureSchema.map((f) => ({ name: f.name, unit: f.unit })),
    totalRows: m.totalRows,
    createdAtMs: s.createdAtMs,
    manifestKey: s.manifestKey,
  };
}

export function requestToPb(r: RetrainingRequest): RetrainingRequestPb {
  return { ...r, status: STATUS[r.status] };
}

export function driftToPb(r: DriftReport): DriftReportPb {
  return { ...r, features: r.features.map((f) => ({ ...f })) };
}

export function policyToPb(p: RetrainingPolicy): RetrainingPolicyPb {
  return { ...p };
}

export function policyFromPb(p: RetrainingPolicyPb | undefined): RetrainingPolicy {
  if (!p) throw new InvalidArgumentError('policy', 'required');
  return { ...p };
}

export function retrainingEventToPb(e: RetrainingEventOut): RetrainingEvent {
  return {
    request: requestToPb(e.request),
    snapshot: snapshotToPb(e.snapshot),
    base: e.base
      ? {
          model: e.base.model,
          version: e.base.version,
          manifest: manifestToPb(e.base.manifest),
          sha256: '',
          sizeBytes: 0,
          signature: undefined,
          artifactKey: '',
          createdAtMs: 0,
          createdBy: '',
          aliases: [],
        }
      : undefined,
  };
}
