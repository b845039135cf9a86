import { type CapturedSample, Record as ProtoRecord, RecordBatch, subjects } from '@millwright/proto';
import type { IngestBatch, IngestRecord, RecordKind, SampleBlob } from '../../domain/records.js';
import type { DeadLetterCode } from './dead-letters.js';

export type ParsedBatch =
  | { ok: true; batch: IngestBatch }
  | { ok: false; code: DeadLetterCode; reason: string; agentId?: string };

type Rejection = Extract<ParsedBatch, { ok: false }>;
type Body = NonNullable<ProtoRecord['body']>;

/**
 * Validates one RecordBatch from untrusted edge input and maps it to domain types. The subject is
 * the identity; seqs must be strictly increasing inside [first_seq, last_seq] (gaps are records the
 * agent evicted: the batch still covers its whole range).
 */
export function parseRecordBatch(subject: string, data: Uint8Array, maxBytes: number): ParsedBatch {
  const who = subjects.parseEdgeSubject(subject);
  if (who?.kind !== 'rec') return { ok: false, code: 'unknown_subject', reason: `not a record subject: ${subject}` };
  const reject = (code: DeadLetterCode, reason: string): Rejection => ({ ok: false, code, reason, agentId: who.agent });
  if (data.length > maxBytes) return reject('oversize', `${data.length} bytes > ${maxBytes}`);
  let pb: RecordBatch;
  try {
    pb = RecordBatch.decode(data);
  } catch (err) {
    return reject('decode', `malformed RecordBatch: ${(err as Error).message}`);
  }
  if (pb.agentId !== who.agent || pb.siteId !== who.site)
    return reject(
      'identity_mismatch',
      `payload says ${pb.siteId}/${pb.agentId}, subject says ${who.site}/${who.agent}`,
    );
  const problem = batchProblem(pb);
  if (problem) return reject('invalid', problem);
  const records: IngestRecord[] = [];
  for (const r of pb.records) records.push(toIngestRecord(r, r.body!));
  return {
    ok: true,
    batch: {
      agentId: pb.agentId,
      siteId: pb.siteId,
      bufferId: pb.bufferId,
      firstSeq: pb.firstSeq,
      lastSeq: pb.lastSeq,
      sentAtMs: pb.sentAtMs,
      records,
    },
  };
}

/** Why a decoded batch is unacceptable, or undefined. */
export function batchProblem(pb: RecordBatch): string | undefined {
  if (!subjects.isValidId(pb.bufferId)) return `buffer_id ${JSON.stringify(pb.bufferId)} is empty or not an id`;
  if (pb.firstSeq < 1) return 'first_seq must be >= 1';
  if (pb.lastSeq < pb.firstSeq) return `last_seq ${pb.lastSeq} < first_seq ${pb.firstSeq}`;
  if (pb.records.length === 0) return 'no records';
  let prev = pb.firstSeq - 1;
  for (const [i, r] of pb.records.entries()) {
    if (r.seq <= prev) return `records[${i}].seq ${r.seq} is not above ${prev}`;
    if (r.seq > pb.lastSeq) return `records[${i}].seq ${r.seq} > last_seq ${pb.lastSeq}`;
    if (!r.body) return `records[${i}] (seq ${r.seq}) has no body`;
    prev = r.seq;
  }
  return undefined;
}

function toIngestRecord(r: ProtoRecord, body: Body): IngestRecord {
  const base = { seq: r.seq, tsMs: r.tsMs, class: r.class };
  switch (body.$case) {
    case 'prediction': {
      const p = body.value;
      return {
        ...base,
        kind: 'prediction',
        modelVersion: p.modelVersion,
        score: p.score,
        decision: p.decision,
        body: json(r),
      };
    }
    case 'alert':
      return { ...base, kind: 'alert', modelVersion: body.value.modelVersion, score: body.value.score, body: json(r) };
    case 'modelStats':
      return { ...base, kind: 'model_stats', modelVersion: body.value.modelVersion, body: json(r) };
    case 'histograms':
      return { ...base, kind: 'histograms', modelVersion: body.value.modelVersion, body: json(r) };
    case 'sample':
      return sampleRecord(r, body.value);
    case 'features':
    case 'aggregate':
    case 'label':
    case 'cleaning':
    case 'drops':
      return { ...base, kind: body.$case satisfies RecordKind, body: json(r) };
  }
}

/** Raw windows leave the body (they go to the blob store); the body keeps their sizes and offsets. */
function sampleRecord(r: ProtoRecord, s: CapturedSample): IngestRecord {
  const stripped: CapturedSample = { ...s, raw: s.raw.map((w) => ({ ...w, samplesF32le: Buffer.alloc(0) })) };
  const body = json({ ...r, body: { $case: 'sample', value: stripped } });
  const sample = body.sample as { raw?: Record<string, unknown>[] };
  let offset = 0;
  for (const [i, w] of s.raw.entries()) {
    const target = sample.raw?.[i];
    if (target) Object.assign(target, { offset, bytes: w.samplesF32le.length });
    offset += w.samplesF32le.length;
  }
  const blob: SampleBlob | undefined =
    offset > 0
      ? {
          model: s.model,
          modelVersion: s.modelVersion,
          bytes: concat(
            s.raw.map((w) => w.samplesF32le),
            offset,
          ),
        }
      : undefined;
  return {
    seq: r.seq,
    tsMs: r.tsMs,
    class: r.class,
    kind: 'sample',
    modelVersion: s.modelVersion,
    score: s.score,
    body,
    ...(blob ? { blob } : {}),
  };
}

function json(r: ProtoRecord): Record<string, unknown> {
  return ProtoRecord.toJSON(r) as Record<string, unknown>;
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
