/**
 * Encoders from agent domain events to protobuf `Record` bodies for the durable buffer. The seq
 * field is left out: the buffer prepends it (concatenated protobuf encodings merge). Every encoder
 * throws MillwrightError INVALID, naming the field, for a time it cannot put on the wire (`wireMs`).
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
import type { CapturedWindow, CaptureReasonName } from '../../capture/capturer.js';
import type { HistogramBatch } from '../../capture/histograms.js';
import type { ChannelQuality } from '../../cleaning/channel-cleaner.js';
import { MillwrightError } from '../../domain/errors.js';
import type { Reason } from '../../domain/model.js';
import type { AlertEvent, PredictionEvent } from '../../domain/prediction.js';
import type { ModelStatsSnapshot } from '../../pipeline/model-stats.js';

type Body = NonNullable<RecordPb['body']>;

const DECISION: Record<PredictionEvent['decision'], Decision> = {
  normal: Decision.DECISION_NORMAL,
  alert: Decision.DECISION_ALERT,
  unknown: Decision.DECISION_UNKNOWN,
};

/**
 * Every `*_ms` field of every record goes through here. Domain times are float milliseconds (a raw
 * window starts at a sample, 1/25.6 ms apart; a paced replay divides file time by its speed); the
 * wire's `*_ms` fields are int64, whose encoder refuses a fraction, NaN, an infinity and anything
 * beyond 2^53. A fraction is rounded here, at the boundary, and nowhere upstream; the rest is refused with
 * an error naming the field, so the caller counts the record instead of losing it to a bare throw.
 * @throws MillwrightError INVALID when `ms` is not a finite time a JavaScript number holds exactly.
 */
function wireMs(ms: number, field: string): number {
  const rounded = Math.round(ms);
  if (!Number.isSafeInteger(rounded)) {
    throw new MillwrightError('INVALID', `record time ${field} is ${ms}: not a finite time within ±2^53 ms`, {
      field,
      ms: String(ms),
    });
  }
  return rounded;
}

function encode(cls: RecordClass, tsMs: number, body: Body): Uint8Array {
  return RecordPb.encode({ seq: 0, tsMs: wireMs(tsMs, 'ts_ms'), class: cls, body }).finish();
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
      windowStartMs: wireMs(p.windowStartMs, 'prediction.window_start_ms'),
      windowEndMs: wireMs(p.windowEndMs, 'prediction.window_end_ms'),
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
    value: {
      names: [...names],
      values: Array.from(values),
      windowStartMs: wireMs(startMs, 'features.window_start_ms'),
      windowEndMs: wireMs(endMs, 'features.window_end_ms'),
      asset,
    },
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
    value: {
      startMs: wireMs(startMs, 'cleaning.start_ms'),
      endMs: wireMs(endMs, 'cleaning.end_ms'),
      channels: q.map((c) => ({ ...c })),
    },
  });
}

export function modelStatsRecord(s: ModelStatsSnapshot): Uint8Array {
  return encode(RecordClass.RECORD_CLASS_REPORT, s.endMs, {
    $case: 'modelStats',
    value: {
      ...s,
      startMs: wireMs(s.startMs, 'model_stats.start_ms'),
      endMs: wireMs(s.endMs, 'model_stats.end_ms'),
      selfTestsPassed: 0,
      selfTestsFailed: 0,
    },
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
    value: {
      startMs: wireMs(startMs, 'drops.start_ms'),
      endMs: wireMs(endMs, 'drops.end_ms'),
      recordsByClass,
      bytesByClass,
      cause,
    },
  });
}

const CAPTURE_REASONS: Record<CaptureReasonName, CaptureReason> = {
  uncertain: CaptureReason.CAPTURE_REASON_UNCERTAIN,
  alert: CaptureReason.CAPTURE_REASON_ALERT,
  random: CaptureReason.CAPTURE_REASON_RANDOM,
  label: CaptureReason.CAPTURE_REASON_LABEL,
};

/** A captured window as a CapturedSample (CAPTURE class): features by name, raw windows as float32 LE. */
export function sampleRecord(w: CapturedWindow, atMs: number): Uint8Array {
  const p = w.prediction;
  return encode(RecordClass.RECORD_CLASS_CAPTURE, atMs, {
    $case: 'sample',
    value: {
      sampleId: w.sampleId,
      reason: CAPTURE_REASONS[w.reason],
      predictionId: p.predictionId,
      model: p.model,
      modelVersion: p.modelVersion,
      features: {
        names: [...w.names],
        values: w.values,
        windowStartMs: wireMs(p.windowStartMs, 'sample.features.window_start_ms'),
        windowEndMs: wireMs(p.windowEndMs, 'sample.features.window_end_ms'),
        asset: p.asset,
      },
      raw: w.raw.map((r) => ({
        channel: r.channel,
        unit: r.unit,
        sampleRateHz: r.sampleRateHz,
        startMs: wireMs(r.startMs, `sample.raw[${r.channel}].start_ms`),
        samplesF32le: f32le(r.samples),
      })),
      score: Number.isFinite(p.score) ? p.score : 0,
    },
  });
}

/** Feature histograms over the manifest's reference bins (REPORT class). */
export function histogramsRecord(h: HistogramBatch): Uint8Array {
  return encode(RecordClass.RECORD_CLASS_REPORT, h.endMs, {
    $case: 'histograms',
    value: {
      model: h.model,
      modelVersion: h.modelVersion,
      startMs: wireMs(h.startMs, 'histograms.start_ms'),
      endMs: wireMs(h.endMs, 'histograms.end_ms'),
      windows: h.windows,
      features: h.features.map((f) => ({ feature: f.feature, counts: f.counts })),
    },
  });
}

function f32le(samples: Float32Array): Buffer {
  const out = Buffer.alloc(samples.length * 4);
  for (let i = 0; i < samples.length; i++) out.writeFloatLE(samples[i]!, i * 4);
  return out;
}

export { CaptureReason, RecordClass };
