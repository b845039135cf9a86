import { Record as ProtoRecord, RecordBatch, subjects } from '@millwright/proto';
import type { JetStreamClient } from '@nats-io/jetstream';
import type postgres from 'postgres';
import { sleep } from '../../harness/index.js';
import { encodeBatch, predictionRecord } from '../../support/records.js';

export const SITE = 'bench-site';

export interface RecordsLoad {
  agents: number;
  batchesPerAgent: number;
  recordsPerBatch: number;
}

/** Pre-encodes every batch (outside the timed part), agent-major per round as 1,000 agents would interleave. */
export function encodeLoad(load: RecordsLoad): { subject: string; msgID: string; data: Uint8Array }[] {
  const out: { subject: string; msgID: string; data: Uint8Array }[] = [];
  const ts = Date.now();
  for (let b = 0; b < load.batchesPerAgent; b++) {
    for (let a = 0; a < load.agents; a++) {
      const agent = `rec-${a}`;
      const first = b * load.recordsPerBatch + 1;
      const last = first + load.recordsPerBatch - 1;
      const records = [];
      for (let s = first; s <= last; s++) records.push(predictionRecord(agent, s, ts));
      out.push({
        subject: subjects.edge.records(SITE, agent),
        msgID: subjects.batchMsgId(agent, first, last),
        data: encodeBatch({ site: SITE, agent, buffer: 'bench', first, last, records }),
      });
    }
  }
  return out;
}

/** Publishes with a bounded number of acks in flight; sent_at is stamped at publish time. */
export async function publishAll(
  js: JetStreamClient,
  msgs: { subject: string; msgID: string; data: Uint8Array }[],
  inFlight = 64,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < msgs.length) {
      const m = msgs[next++]!;
      await js.publish(m.subject, m.data, { msgID: m.msgID });
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
}

export async function waitCommitted(sql: postgres.Sql, total: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [r] = await sql<{ n: string | null }[]>`select sum(committed_seq)::bigint as n from record_streams`;
    const n = Number(r?.n ?? 0);
    if (n >= total) return Date.now();
    if (Date.now() > deadline) throw new Error(`only ${n} of ${total} records committed in ${timeoutMs} ms`);
    await sleep(20);
  }
}

/**
 * The baseline: the same rows, sent by one client as plain multi-row `INSERT … VALUES` in groups of
 * 5,000 rows into a table shaped like `records` (same columns, keys and indexes), no conflict handling.
 */
export async function bareInsert(
  sql: postgres.Sql,
  msgs: { data: Uint8Array }[],
  groupRecords = 5000,
): Promise<number> {
  await sql`create table records_bare (like records including all)`;
  const rows: Record<string, unknown>[] = [];
  for (const m of msgs) {
    const b = RecordBatch.decode(m.data);
    for (const r of b.records) {
      const p = r.body?.$case === 'prediction' ? r.body.value : undefined;
      rows.push({
        stream_id: 1_000_000 + Number(b.agentId.slice(4)),
        seq: r.seq,
        agent_id: b.agentId,
        site_id: b.siteId,
        ts: new Date(r.tsMs),
        class: r.class,
        kind: 'prediction',
        model_version: p?.modelVersion ?? null,
        score: p?.score ?? null,
        decision: p?.decision ?? null,
        body: ProtoRecord.toJSON(r),
      });
    }
  }
  const started = performance.now();
  for (let i = 0; i < rows.length; i += groupRecords) {
    await sql`insert into records_bare ${sql(rows.slice(i, i + groupRecords) as never)}`;
  }
  return rows.length / ((performance.now() - started) / 1000);
}
