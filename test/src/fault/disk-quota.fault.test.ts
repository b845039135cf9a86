import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sleep, spawnAgent, waitFor } from '../harness/index.js';
import { FLAPPING_MODEL, installSignedModel } from './model.js';
import { scanBuffer } from './scan.js';
import {
  type AgentSetup,
  agentEnv,
  agentMetrics,
  drainAndRead,
  FaultStack,
  httpPort,
  metric,
  tempDataDir,
} from './stack.js';

const ALERT = 5;
const LABEL = 6;

/** One operator label on a recent prediction, through the agent's local API; returns its buffer seq. */
async function label(port: number): Promise<number | undefined> {
  const res = await fetch(`http://127.0.0.1:${port}/predictions?limit=1`);
  const p = ((await res.json()) as { predictions: { predictionId: string }[] }).predictions[0];
  if (!p) return undefined;
  const post = await fetch(`http://127.0.0.1:${port}/labels`, {
    method: 'POST',
    body: JSON.stringify({ predictionId: p.predictionId, kind: 'confirmed_failure', operator: 'fault-test' }),
  });
  return post.status === 201 ? ((await post.json()) as { seq: number }).seq : undefined;
}

describe('the disk quota filled while the broker is unreachable', () => {
  let stack: FaultStack | undefined;

  afterAll(async () => {
    await stack?.dispose();
  });

  it('evicts telemetry and predictions first, keeps every alert and label, and reports the drops upstream', async () => {
    stack = await FaultStack.create(); // its NATS port is fixed but nothing listens there yet
    const dataDir = await tempDataDir('quota');
    const a: AgentSetup = {
      agentId: 'quota-1',
      dataDir,
      natsUrl: stack.natsUrl,
      trustKey: await installSignedModel(dataDir, FLAPPING_MODEL),
      extra: {
        MW_BUFFER_CAPACITY_BYTES: String(4 * 1024 * 1024),
        MW_BUFFER_SEGMENT_BYTES: String(256 * 1024),
        MW_UPLOAD_FEATURES: 'true',
        MW_ALERTS_HOLD_OFF_S: '1',
        MW_ALERTS_RESOLVE_AFTER_NORMAL: '1',
      },
    };
    const agent = await spawnAgent(agentEnv(a, 3));
    const port = await httpPort(agent);
    const labels: number[] = [];
    await waitFor(
      'eviction reaching predictions',
      async () => {
        const seq = await label(port);
        if (seq !== undefined) labels.push(seq);
        const m = await agentMetrics(port);
        return metric(m, 'mw_agent_buffer_drops_total', { class: 'PREDICTION', cause: 'disk_full' }) > 0
          ? true
          : undefined;
      },
      300_000,
      300,
    );
    await sleep(1000);
    const m = await agentMetrics(port);
    await agent.stop(60_000);
    expect(agent.exitCode).toBe(0);
    const alertsRaisedOrResolved = metric(m, 'mw_agent_alerts_total');
    expect(metric(m, 'mw_agent_buffer_append_failures_total')).toBe(0);
    expect(alertsRaisedOrResolved).toBeGreaterThan(0);
    expect(labels.length).toBeGreaterThan(10);
    const onDisk = await scanBuffer(join(dataDir, 'buffer'));

    // The network returns: everything kept drains, with the drop reports.
    await stack.start();
    const { head, stored, bufferId } = await drainAndRead(stack, a, 240_000);
    for (const seq of onDisk.records.keys()) expect(stored.has(seq)).toBe(true);
    for (const seq of labels) expect(stored.get(seq)?.cls).toBe(LABEL);
    const alerts = [...stored.values()].filter((r) => r.cls === ALERT).length;
    // Every alert transition made while offline is stored (the final one may have been flushed at stop).
    expect(alerts).toBeGreaterThanOrEqual(alertsRaisedOrResolved);

    const rows = await stack.sql<{ body: { drops: { cause: string; recordsByClass: Record<string, number> } } }[]>`
      select r.body from records r join record_streams s on s.id = r.stream_id
      where s.agent_id = ${a.agentId} and s.buffer_id = ${bufferId} and r.kind = 'drops'`;
    const evicted: Record<string, number> = {};
    for (const { body } of rows) {
      if (body.drops.cause !== 'disk_full') continue;
      for (const [cls, n] of Object.entries(body.drops.recordsByClass)) evicted[cls] = (evicted[cls] ?? 0) + Number(n);
    }
    expect(evicted.TELEMETRY).toBeGreaterThan(0);
    expect(evicted.PREDICTION).toBeGreaterThan(0);
    expect(Object.keys(evicted).filter((c) => !['TELEMETRY', 'PREDICTION', 'REPORT'].includes(c))).toEqual([]);
    // Every seq missing in Postgres is one the reports account for as evicted.
    let missing = 0;
    for (let s = 1; s <= head; s++) if (!stored.has(s)) missing++;
    const reported = Object.values(evicted).reduce((x, y) => x + y, 0);
    expect(missing).toBe(reported);
    console.info(
      `disk quota: head ${head}, stored ${stored.size}, evicted ${JSON.stringify(evicted)}, ` +
        `alerts ${alerts}, labels ${labels.length}, on disk at stop ${onDisk.records.size}`,
    );
  }, 600_000);
});
