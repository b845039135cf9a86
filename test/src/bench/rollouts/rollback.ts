/** The rollback scenario's two ends: canary agents' failing ModelStats, and their reverted KV keys. */
import { RecordBatch, RecordClass, subjects } from '@millwright/proto';
import type { JetStreamClient } from '@nats-io/jetstream';
import { sleep } from '../../harness/index.js';
import type { SimFleet } from './sim.js';

/**
 * Publishes one ModelStats record per canary agent (as its sync would: a RecordBatch on its `.rec`
 * subject) with 10 % of inferences failing on `version` over [fromMs, nowMs]: the error_rate gate's
 * evidence. `fromMs` must not be before the stage started (the gate leaves earlier intervals out).
 */
export async function publishFailingStats(
  js: JetStreamClient,
  canary: readonly { agent_id: string; site_id: string }[],
  model: string,
  version: string,
  fromMs: number,
  nowMs: number,
): Promise<void> {
  await Promise.all(
    canary.map((a) => {
      const data = RecordBatch.encode({
        agentId: a.agent_id,
        siteId: a.site_id,
        firstSeq: 1,
        lastSeq: 1,
        sentAtMs: nowMs,
        bufferId: 'bench',
        records: [
          {
            seq: 1,
            tsMs: nowMs,
            class: RecordClass.RECORD_CLASS_REPORT,
            body: {
              $case: 'modelStats',
              value: {
                model,
                modelVersion: version,
                startMs: fromMs,
                endMs: nowMs,
                inferences: 1000,
                errors: 100,
                nanOutputs: 0,
                latencyP50Us: 5,
                latencyP99Us: 20,
                alerts: 0,
                shadowVersion: '',
                shadowCompared: 0,
                shadowDisagreements: 0,
                selfTestsPassed: 0,
                selfTestsFailed: 0,
              },
            },
          },
        ],
      }).finish();
      return js.publish(subjects.edge.records(a.site_id, a.agent_id), data, {
        msgID: subjects.batchMsgId(a.agent_id, 1, 1),
      });
    }),
  );
}

/** Waits until every canary key's latest value names `previous` with a signed rollback; ms after t0. */
export async function waitReverted(
  sim: SimFleet,
  canary: readonly { agent_id: string; site_id: string }[],
  previous: string,
  t0: number,
  timeoutMs: number,
): Promise<number> {
  const keys = canary.map((a) => subjects.agentKey(a.site_id, a.agent_id));
  for (;;) {
    let last = 0;
    let pending = 0;
    for (const k of keys) {
      const s = sim.seen.get(k);
      if (s && s.version === previous && s.rollback && s.atMs >= t0) last = Math.max(last, s.atMs);
      else pending++;
    }
    if (pending === 0) return last - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${pending} canary keys not reverted after ${timeoutMs} ms`);
    await sleep(20);
  }
}
