import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, spawnAgent } from '../harness/index.js';
import { installSignedModel, QUIET_MODEL } from './model.js';
import { type AgentSetup, agentEnv, drainAndRead, FaultStack, tempDataDir } from './stack.js';

const KILLS = 6;

describe('kill -9 of the control plane during ingestion', () => {
  let stack: FaultStack;

  beforeAll(async () => {
    stack = await (await FaultStack.create()).start();
  });

  afterAll(async () => {
    await stack?.dispose();
  });

  it('stores every record exactly once across control-plane crashes mid-commit', async () => {
    const dataDir = await tempDataDir('cpkill');
    const a: AgentSetup = {
      agentId: 'cpkill-1',
      dataDir,
      natsUrl: stack.natsUrl,
      trustKey: await installSignedModel(dataDir, QUIET_MODEL),
    };
    const agent = await spawnAgent(agentEnv(a, 3));
    for (let i = 0; i < KILLS; i++) {
      await sleep(1000 + Math.random() * 2000);
      await stack.cp.proc.kill();
      await sleep(Math.random() * 1500);
      await stack.restartControlPlane();
    }
    await sleep(2000);
    await agent.stop(60_000);
    const { head, stored } = await drainAndRead(stack, a);
    const missing: number[] = [];
    for (let s = 1; s <= head; s++) if (!stored.has(s)) missing.push(s);
    expect(missing).toEqual([]);
    expect(stored.size).toBe(head);
    expect((await stack.streams(a.agentId)).length).toBe(1);
    console.info(`control plane kill -9 x${KILLS}: head ${head}, stored ${stored.size}`);
  }, 400_000);
});
