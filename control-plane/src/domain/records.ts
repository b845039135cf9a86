/**
 * Edge records as the control plane stores them: plain types, no generated proto types.
 * Idempotency is keyed (agent, buffer id, seq); see docs/ARCHITECTURE.md.
 */

export const RECORD_KINDS = [
  'prediction',
  'features',
  'aggregate',
  'alert',
  'label',
  'sample',
  'cleaning',
  'drops',
  'model_stats',
  'histograms',
] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

/** A captured raw window's bytes, bound for the sample blob store instead of Postgres. */
export interface SampleBlob {
  model: string;
  modelVersion: string;
  bytes: Uint8Array;
}

export interface IngestRecord {
  seq: number;
  tsMs: number;
  /** RecordClass number as sent (drives retention at the edge). */
  class: number;
  kind: RecordKind;
  modelVersion?: string;
  score?: number;
  /** Decision number (0 unspecified, 1 normal, 2 alert, 3 unknown). */
  decision?: number;
  /** The record as proto3 JSON, raw bytes removed. */
  body: Record<string, unknown>;
  /** Present for captured samples: the raw windows, concatenated in `body.sample.raw` order. */
  blob?: SampleBlob;
}

/** A validated record batch: seqs strictly increasing inside [firstSeq, lastSeq]. */
export interface IngestBatch {
  agentId: string;
  siteId: string;
  bufferId: string;
  firstSeq: number;
  lastSeq: number;
  sentAtMs: number;
  records: IngestRecord[];
}

/** A closed range of sequence numbers, [first, last]. */
export type SeqRange = readonly [number, number];

/** What a flush committed for one (agent, buffer) stream. */
export interface StreamWatermark {
  siteId: string;
  agentId: string;
  bufferId: string;
  committedSeq: number;
}

/**
 * S3 key of a captured sample's raw bytes:
 * `datasets/<model>/<version>/<site>/<yyyy-mm-dd>/<agent>-<buffer>-<seq>.bin` (UTC date of the record).
 */
export function sampleKey(r: {
  model: string;
  modelVersion: string;
  siteId: string;
  agentId: string;
  bufferId: string;
  seq: number;
  tsMs: number;
}): string {
  const day = new Date(r.tsMs).toISOString().slice(0, 10);
  return `datasets/${keyPart(r.model)}/${keyPart(r.modelVersion)}/${r.siteId}/${day}/${r.agentId}-${r.bufferId}-${r.seq}.bin`;
}

/** Model names and versions are free text to the agent: keep key segments to a safe alphabet. */
function keyPart(s: string): string {
  const safe = s.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  return safe === '' ? '_unknown' : safe;
}
