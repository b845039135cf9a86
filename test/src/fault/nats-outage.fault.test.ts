import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, spawnAgent, waitFor } from '../harness/index.js';
import { installSignedModel, QUIET_MODEL } from './model.js';
import { type AgentSetup, agentEnv, agentStatus, drainAndRead, FaultStack, httpPort, tempDataDir } from './stack.js';

const OUTAGE_MS = 125_000;

describe('nats-server down for minutes during ingestion', () => {
  let stack: FaultStack;

  beforeAll(async () => {
    stack = await (await FaultStack.create()).start();
  });

  afterAll(async () => {
    await stack?.dispose();
  });

  it('catches up fully after a two-minute broker outage, every record once', async () => {
    const dataDir = await tempDataDir('outage');
    const a: AgentSetup = {
      agentId: 'outage-1',
      dataDir,
      natsUrl: stack.natsUrl,
      trustKey: await installSignedModel(dataDir, QUIET_MODEL),
    };
    const agent = await spawnAgent(agentEnv(a));
    const port = await httpPort(agent);
    const committedBefore = await waitFor(
      'records committed before the outage',
      async () => {
        const b = (await agentStatus(port)).buffer;
        return b.commitCursor > 300 ? b.commitCursor : undefined;
      },
      60_000,
    );

    await stack.nats.stop();
    const headAtStop = (await agentStatus(port)).buffer.headSeq;
    await sleep(OUTAGE_MS);
    const during = (await agentStatus(port)).buffer;
    // The agent kept producing into its buffer; nothing could be committed meanwhile.
    expect(during.headSeq - headAtStop).toBeGreaterThan(5000);
    expect(during.commitCursor).toBeLessThanOrEqual(headAtStop);

    await stack.nats.restart();
    const t0 = Date.now();
    await waitFor(
      'the backlog committed while the agent keeps producing',
      async () => ((await agentStatus(port)).buffer.commitCursor >= during.headSeq ? true : undefined),
      180_000,
      250,
    );
    const catchUpMs = Date.now() - t0;
    await agent.stop(60_000);

    const { head, stored } = await drainAndRead(stack, a);
    const missing: number[] = [];
    for (let s = 1; s <= head; s++) if (!stored.has(s)) missing.push(s);
    expect(missing).toEqual([]);
    expect(stored.size).toBe(head);
    console.info(
      `nats outage ${OUTAGE_MS} ms: committed before ${committedBefore}, backlog ${during.headSeq - during.commitCursor} ` +
        `records, caught up in ${catchUpMs} ms after restart, final head ${head}, stored ${stored.size}`,
    );
  }, 420_000);
});
