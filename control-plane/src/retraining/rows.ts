import { gzipSync } from 'node:zlib';
import { sha256Hex } from './canonical.js';
import { type DatasetRow, isLabelKind, type LabelKind } from './domain.js';
import type { LabelRow, ProjectableRecord } from './ports.js';

const LABEL_ENUM: Record<string, LabelKind> = {
  LABEL_KIND_CONFIRMED_FAILURE: 'confirmed_failure',
  LABEL_KIND_FALSE_ALARM: 'false_alarm',
  LABEL_KIND_NORMAL: 'normal',
};

const REASON_ENUM: Record<string, string> = {
  CAPTURE_REASON_UNCERTAIN: 'uncertain',
  CAPTURE_REASON_ALERT: 'alert',
  CAPTURE_REASON_RANDOM: 'random',
  CAPTURE_REASON_LABEL: 'label',
};

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === 'object' ? (v as Json) : {});
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' ? Number(v) || 0 : 0);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** An operator label from an agent's label record; undefined when it names no known kind. */
export function labelFromRecord(r: ProjectableRecord): LabelRow | undefined {
  const l = obj(r.body.label);
  const kind = LABEL_ENUM[str(l.kind)] ?? str(l.kind);
  if (!isLabelKind(kind) || !str(l.predictionId)) return undefined;
  return {
    predictionId: str(l.predictionId),
    agentId: r.agentId,
    kind,
    note: str(l.note),
    operator: str(l.operator),
    source: str(l.source) || 'agent-api',
    atMs: r.tsMs,
  };
}

export interface SampleFacts {
  model: string;
  version: string;
  predictionId: string;
}

/** Model, version and prediction id of a sample record (partitioning and label lookup). */
export function sampleFacts(r: ProjectableRecord): SampleFacts {
  const s = obj(r.body.sample);
  return { model: str(s.model), version: str(s.modelVersion), predictionId: str(s.predictionId) };
}

/**
 * One dataset row from a captured sample record: features by name, the score and decision, the
 * operator label if known, and where the raw windows are (S3 key, byte offset and length, float32 LE).
 */
export function rowFromSample(
  r: ProjectableRecord,
  label: { kind: LabelKind; note: string } | undefined,
  alertThreshold: number,
): DatasetRow {
  const s = obj(r.body.sample);
  const f = obj(s.features);
  const names = arr(f.names).map(str);
  const values = arr(f.values).map(num);
  const blob = obj(r.body.blob);
  const reason = REASON_ENUM[str(s.reason)] ?? (str(s.reason) || 'unspecified');
  const score = num(s.score);
  return {
    sample_id: str(s.sampleId),
    prediction_id: str(s.predictionId),
    agent_id: r.agentId,
    site_id: r.siteId,
    asset: str(f.asset),
    ts_ms: r.tsMs,
    window_start_ms: num(f.windowStartMs),
    window_end_ms: num(f.windowEndMs),
    model: str(s.model),
    model_version: str(s.modelVersion),
    capture_reason: reason,
    score,
    decision: reason === 'alert' || (Number.isFinite(alertThreshold) && score >= alertThreshold) ? 'alert' : 'normal',
    features: Object.fromEntries(names.map((n, i) => [n, values[i] ?? 0])),
    label: label?.kind ?? null,
    label_note: label?.note ?? '',
    raw: arr(s.raw).map((w) => {
      const x = obj(w);
      return {
        channel: str(x.channel),
        unit: str(x.unit),
        sample_rate_hz: num(x.sampleRateHz),
        start_ms: num(x.startMs),
        key: str(blob.key),
        offset: num(x.offset),
        bytes: num(x.bytes),
      };
    }),
  };
}

/** A sealed part: gzip-compressed NDJSON (one JSON row per line), its digest and label counts. */
export function encodePart(rows: readonly DatasetRow[]): {
  bytes: Buffer;
  sha256: string;
  labelled: number;
  labelCounts: Record<string, number>;
} {
  const text = rows.map((r) => `${JSON.stringify(r)}\n`).join('');
  const bytes = gzipSync(Buffer.from(text, 'utf8'), { level: 6 });
  const labelCounts: Record<string, number> = {};
  for (const r of rows) if (r.label) labelCounts[r.label] = (labelCounts[r.label] ?? 0) + 1;
  return { bytes, sha256: sha256Hex(bytes), labelled: rows.filter((r) => r.label).length, labelCounts };
}

/** Model names and versions are free text: keep key segments to a safe alphabet. */
export function keyPart(s: string): string {
  const safe = s.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  return safe === '' ? '_unknown' : safe;
}

/** `datasets/<model>/<version>/<site>/<yyyy-mm-dd>/<agent>-<stream>-<from>-<to>.ndjson.gz` */
export function partKey(p: {
  model: string;
  version: string;
  siteId: string;
  day: string;
  agentId: string;
  streamId: number;
  fromSeq: number;
  toSeq: number;
}): string {
  return `datasets/${keyPart(p.model)}/${keyPart(p.version)}/${p.siteId}/${p.day}/${p.agentId}-${p.streamId}-${p.fromSeq + 1}-${p.toSeq}.ndjson.gz`;
}

export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
