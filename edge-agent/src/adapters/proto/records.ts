/**
 * Encoders from agent domain events to protobuf `Record` bodies for the durable buffer. The seq
 * field is left out: the buffer prepends it (concatenated protobuf encodings merge).
 */
import {
  AlertState,
  CaptureReason,
  Decision,
  LabelKind,
  type Reason as ReasonPb,
  RecordClass,
  Record as RecordPb,
} from '@millwright/proto';
import type { ChannelQuality } from '../../cleaning/channel-cleaner.js';
import type { Reason } from '../../domain/model.js';
import type { AlertEvent, PredictionEvent } from '../../domain/prediction.js';
import type { ModelStatsSnapshot } from '../../pipeline/model-stats.js';

type Body = NonNullable<RecordPb['body']>;

const DECISION: Record<PredictionEvent['decision'], Decision> = {
  normal: Decision.DECISION_NORMAL,
  alert: Decision.DECISION_ALERT,
  unknown: Decision.DECISION_UNKNOWN,
};

function encode(cls: RecordClass, tsMs: number, body: Body): Uint8Array {
  return RecordPb.encode({ seq: 0, tsMs, class: cls, body }).finish();
}

function reasons(rs: readonly Reason[]): ReasonPb[] {
  return rs.map((r) => ({
    feature: r.feature,
    value: r.value,
    unit: r.unit,
    contribution: r.contribution,
    baseline: Number.isFinite(r.baseline) ? r.baseline : 0,
    text: r.text,
  }));
}

export function predictionRecord(p: PredictionEvent, cls: RecordClass): Uint8Array {
  return encode(cls, p.windowEndMs, {
    $case: 'prediction',
    value: {
      predictionId: p.predictionId,
      model: p.model,
      modelVersion: p.modelVersion,
      score: p.score,
      decision: DECISION[p.decision],
      reasons: reasons(p.reasons),
      latencyUs: p.latencyUs,
      windowStartMs: p.windowStartMs,
      windowEndMs: p.windowEndMs,
      asset: p.asset,
      inputBadFraction: Number.isFinite(p.inputBadFraction) ? p.inputBadFraction : 0,
    },
  });
}

export function featuresRecord(
  asset: string,
  names: readonly string[],
  values: Float64Array,
  startMs: number,
  endMs: number,
): Uint8Array {
  return encode(RecordClass.RECORD_CLASS_TELEMETRY, endMs, {
    $case: 'features',
    value: { names: [...names], values: Array.from(values), windowStartMs: startMs, windowEndMs: endMs, asset },
  });
}

export function alertRecord(a: AlertEvent): Uint8Array {
  return encode(RecordClass.RECORD_CLASS_ALERT, a.atMs, {
    $case: 'alert',
    value: {
      alertId: a.alertId,
      state: a.state === 'raised' ? AlertState.ALERT_STATE_RAISED : AlertState.ALERT_STATE_RESOLVED,
      modelVersion: a.modelVersion,
      score: a.score,
      reasons: reasons(a.reasons),
      message: a.message,
      predictionId: a.predictionId,
      asset: a.asset,
    },
  });
}

const LABELS = {
  confirmed_failure: LabelKind.LABEL_KIND_CONFIRMED_FAILURE,
  false_alarm: LabelKind.LABEL_KIND_FALSE_ALARM,
  normal: LabelKind.LABEL_KIND_NORMAL,
} as const;

export function labelRecord(
  l: { predictionId: string; kind: keyof typeof LABELS; note: string; operator: string },
  atMs: number,
): Uint8Array {
  return encode(RecordClass.RECORD_CLASS_LABEL, atMs, {
    $case: 'label',
    value: {
      predictionId: l.predictionId,
      kind: LABELS[l.kind],
      note: l.note,
      operator: l.operator,
      source: 'agent-api',
    },
  });
}

export function cleaningRecord(q: readonly ChannelQuality[], startMs: number, endMs: number): Uint8Array {
  return encode(RecordClass.RECORD_CLASS_REPORT, endMs, {
    $case: 'cleaning',
    value: { startMs, endMs, channels: q.map((c) => ({ ...c })) },
  });
}

export function modelStatsRecord(s: ModelStatsSnapshot): Uint8Array {
  return encode(RecordClass.RECORD_CLASS_REPORT, s.endMs, {
    $case: 'modelStats',
    value: { ...s, selfTestsPassed: 0, selfTestsFailed: 0 },
  });
}

export function dropRecord(
  byClass: Record<string, { records: number; bytes: number }>,
  cause: string,
  startMs: number,
  endMs: number,
): Uint8Array {
  const recordsByClass: Record<string, number> = {};
  const bytesByClass: Record<string, number> = {};
  for (const [cls, c] of Object.entries(byClass)) {
    if (c.records === 0) continue;
    recordsByClass[cls] = c.records;
    bytesByClass[cls] = c.bytes;
  }
  return encode(RecordClass.RECORD_CLASS_REPORT, endMs, {
    $case: 'drops',
    value: { startMs, endMs, recordsByClass, bytesByClass, cause },
  });
}

export { CaptureReason, RecordClass };
