/** Builds what an agent's sync sends: RecordBatch messages, published as JetStream does it. */
import {
  CommitWatermark,
  Decision,
  type Record as ProtoRecord,
  RecordBatch,
  RecordClass,
  subjects,
} from '@millwright/proto';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';

export interface BatchSpec {
  site: string;
  agent: string;
  buffer: string;
  first: number;
  last: number;
  /** Default: one prediction per seq. */
  records?: ProtoRecord[];
  sentAtMs?: number;
}

export function predictionRecord(agent: string, seq: number, tsMs = Date.now()): ProtoRecord {
  return {
    seq,
    tsMs,
    class: RecordClass.RECORD_CLASS_PREDICTION,
    body: {
      $case: 'prediction',
      value: {
        predictionId: `${agent}:${seq}`,
        model: 'bearing',
        modelVersion: '1.4.0',
        score: (seq % 100) / 100,
        decision: seq % 50 === 0 ? Decision.DECISION_ALERT : Decision.DECISION_NORMAL,
        reasons: [
          { feature: 'vib_rms', value: 0.42, unit: 'g', contribution: 0.21, baseline: 0.3, text: 'rms 1.4x baseline' },
          { feature: 'vib_kurtosis', value: 3.1, unit: '', contribution: 0.12, baseline: 3, text: '' },
          { feature: 'temp', value: 61.5, unit: 'C', contribution: -0.02, baseline: 60, text: '' },
        ],
        latencyUs: 7,
        windowStartMs: tsMs - 1000,
        windowEndMs: tsMs,
        asset: 'pump-3',
        inputBadFraction: 0,
      },
    },
  };
}

export function encodeBatch(s: BatchSpec): Uint8Array {
  const records = s.records ?? range(s.first, s.last).map((seq) => predictionRecord(s.agent, seq));
  return RecordBatch.encode({
    agentId: s.agent,
    siteId: s.site,
    firstSeq: s.first,
    lastSeq: s.last,
    records,
    sentAtMs: s.sentAtMs ?? Date.now(),
    bufferId: s.buffer,
  }).finish();
}

/** Publishes as the agent does: JetStream publish with the deterministic message id (or another id). */
export function publishBatch(js: JetStreamClient, s: BatchSpec, msgID = subjects.batchMsgId(s.agent, s.first, s.last)) {
  return js.publish(subjects.edge.records(s.site, s.agent), encodeBatch(s), { msgID });
}

export async function readWatermark(kv: KV, site: string, agent: string): Promise<CommitWatermark | undefined> {
  const e = await kv.get(subjects.agentKey(site, agent));
  return e?.operation === 'PUT' ? CommitWatermark.decode(e.value) : undefined;
}

export function range(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}
