import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, spawnAgent, waitFor } from '../harness/index.js';
import { installSignedModel, QUIET_MODEL } from './model.js';
import { type AgentSetup, agentEnv, agentStatus, drainAndRead, FaultStack, httpPort, tempDataDir } from './stack.js';

describe('nats-server losing its store after acknowledging records', () => {
  let stack: FaultStack;

  beforeAll(async () => {
    stack = await (await FaultStack.create()).start();
  });

  afterAll(async () => {
    stack?.cp.proc.resume();
    await stack?.dispose();
  });

  it('loses nothing: the agent resends what JetStream acknowledged but Postgres never committed', async () => {
    const dataDir = await tempDataDir('wipe');
    const a: AgentSetup = {
      agentId: 'wipe-1',
      dataDir,
      natsUrl: stack.natsUrl,
      trustKey: await installSignedModel(dataDir, QUIET_MODEL),
    };
    const agent = await spawnAgent(agentEnv(a));
    const port = await httpPort(agent);
    await waitFor('records committed', async () =>
      (await agentStatus(port)).buffer.commitCursor > 300 ? true : undefined,
    );
    // Freeze the control plane: JetStream acknowledges records that nobody commits to Postgres.
    stack.cp.proc.pause();
    const frozen = await waitFor(
      'records acknowledged by JetStream but not committed',
      async () => {
        const b = (await agentStatus(port)).buffer;
        return b.sendCursor - b.commitCursor > 1000 ? b : undefined;
      },
      60_000,
    );
    await stack.nats.kill();
    await stack.nats.wipeStore();
    await stack.nats.restart();
    stack.cp.proc.resume();

    await waitFor(
      'the agent commits past everything acknowledged before the wipe',
      async () => ((await agentStatus(port)).buffer.commitCursor >= frozen.sendCursor + 500 ? true : undefined),
      180_000,
      250,
    );
    await sleep(500);
    await agent.stop(60_000);

    const { head, stored } = await drainAndRead(stack, a);
    const missing: number[] = [];
    for (let s = 1; s <= head; s++) if (!stored.has(s)) missing.push(s);
    expect(missing).toEqual([]);
    expect(stored.size).toBe(head);
    console.info(
      `nats store wiped with ${frozen.sendCursor - frozen.commitCursor} acknowledged-uncommitted records ` +
        `(send ${frozen.sendCursor}, commit ${frozen.commitCursor}); final head ${head}, stored ${stored.size}`,
    );
  }, 420_000);
});
