import { Decision, type Record as ProtoRecord, RecordBatch, RecordClass, subjects } from '@millwright/proto';
import { describe, expect, it } from 'vitest';
import { parseRecordBatch } from './record-batch.js';

const SUBJECT = subjects.edge.records('plant-a', 'press-01');
const MAX = 1024 * 1024;

function prediction(seq: number): ProtoRecord {
  return {
    seq,
    tsMs: 1_700_000_000_000 + seq,
    class: RecordClass.RECORD_CLASS_PREDICTION,
    body: {
      $case: 'prediction',
      value: {
        predictionId: `press-01:${seq}`,
        model: 'bearing',
        modelVersion: '1.0.0',
        score: 0.25,
        decision: Decision.DECISION_NORMAL,
        reasons: [],
        latencyUs: 5,
        windowStartMs: 0,
        windowEndMs: 0,
        asset: 'pump-3',
        inputBadFraction: 0,
      },
    },
  };
}

function encode(over: Partial<RecordBatch> = {}): Uint8Array {
  return RecordBatch.encode({
    agentId: 'press-01',
    siteId: 'plant-a',
    firstSeq: 1,
    lastSeq: 3,
    records: [prediction(1), prediction(2), prediction(3)],
    sentAtMs: 1_700_000_000_100,
    bufferId: 'buf1',
    ...over,
  }).finish();
}

function rejection(data: Uint8Array, subject = SUBJECT, max = MAX) {
  const p = parseRecordBatch(subject, data, max);
  if (p.ok) throw new Error('expected a rejection');
  return p;
}

describe('record batch validation', () => {
  it('maps a good batch with typed columns and a proto3 JSON body', () => {
    const p = parseRecordBatch(SUBJECT, encode(), MAX);
    if (!p.ok) throw new Error(p.reason);
    expect(p.batch).toMatchObject({
      agentId: 'press-01',
      siteId: 'plant-a',
      bufferId: 'buf1',
      firstSeq: 1,
      lastSeq: 3,
    });
    expect(p.batch.records[1]).toMatchObject({
      seq: 2,
      kind: 'prediction',
      modelVersion: '1.0.0',
      score: 0.25,
      decision: 1,
    });
    expect(p.batch.records[1]!.body).toMatchObject({
      seq: 2,
      class: 'RECORD_CLASS_PREDICTION',
      prediction: { asset: 'pump-3' },
    });
  });

  it('accepts gaps inside the batch range (records the agent evicted)', () => {
    expect(
      parseRecordBatch(SUBJECT, encode({ firstSeq: 1, lastSeq: 10, records: [prediction(2), prediction(9)] }), MAX).ok,
    ).toBe(true);
  });

  it('rejects a payload that is not protobuf as decode', () => {
    expect(rejection(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01])).code).toBe('decode');
  });

  it('rejects a message above the size limit as oversize before decoding', () => {
    expect(rejection(encode(), SUBJECT, 10)).toMatchObject({ code: 'oversize', agentId: 'press-01' });
  });

  it('rejects a payload naming another agent or site as identity_mismatch', () => {
    expect(rejection(encode({ agentId: 'press-02' })).code).toBe('identity_mismatch');
    expect(rejection(encode({ siteId: 'plant-b' })).code).toBe('identity_mismatch');
  });

  it('rejects a subject that is not a record subject', () => {
    expect(rejection(encode(), subjects.edge.heartbeat('plant-a', 'press-01')).code).toBe('unknown_subject');
  });

  it.each([
    ['an empty buffer id', { bufferId: '' }, /buffer_id/],
    ['first_seq 0', { firstSeq: 0 }, /first_seq/],
    ['last_seq below first_seq', { firstSeq: 3, lastSeq: 2, records: [prediction(3)] }, /last_seq/],
    ['no records', { records: [] }, /no records/],
    ['a record below first_seq', { firstSeq: 2 }, /records\[0\]/],
    ['a record above last_seq', { lastSeq: 2 }, /records\[2\]/],
    ['seqs out of order', { records: [prediction(1), prediction(3), prediction(2)] }, /records\[2\]/],
    ['a repeated seq', { records: [prediction(1), prediction(1), prediction(3)] }, /records\[1\]/],
    [
      'a record without body',
      { records: [prediction(1), { ...prediction(2), body: undefined }, prediction(3)] },
      /no body/,
    ],
  ])('rejects a batch with %s as invalid', (_, over, reason) => {
    const r = rejection(encode(over as Partial<RecordBatch>));
    expect(r.code).toBe('invalid');
    expect(r.reason).toMatch(reason);
  });

  it('moves captured raw windows out of the body into one blob with offsets', () => {
    const a = Buffer.from(Float32Array.from([1, 2]).buffer);
    const b = Buffer.from(Float32Array.from([3]).buffer);
    const sample: ProtoRecord = {
      seq: 1,
      tsMs: 1,
      class: RecordClass.RECORD_CLASS_CAPTURE,
      body: {
        $case: 'sample',
        value: {
          sampleId: 's1',
          reason: 1,
          predictionId: '',
          model: 'bearing',
          modelVersion: '2.0.0',
          features: undefined,
          score: 0.9,
          raw: [
            { channel: 'vib', unit: 'g', sampleRateHz: 25600, startMs: 1, samplesF32le: a },
            { channel: 'cur', unit: 'A', sampleRateHz: 1000, startMs: 1, samplesF32le: b },
          ],
        },
      },
    };
    const p = parseRecordBatch(SUBJECT, encode({ firstSeq: 1, lastSeq: 1, records: [sample] }), MAX);
    if (!p.ok) throw new Error(p.reason);
    const r = p.batch.records[0]!;
    expect(r.blob).toMatchObject({ model: 'bearing', modelVersion: '2.0.0' });
    expect(Buffer.from(r.blob!.bytes).equals(Buffer.concat([a, b]))).toBe(true);
    expect(r.body.sample).toMatchObject({
      raw: [
        { channel: 'vib', offset: 0, bytes: 8 },
        { channel: 'cur', offset: 8, bytes: 4 },
      ],
    });
    expect(JSON.stringify(r.body)).not.toContain('samplesF32le');
  });
});
