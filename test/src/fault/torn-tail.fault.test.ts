import { appendFile, readFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, sleep, spawnAgent, waitFor } from '../harness/index.js';
import { installSignedModel, QUIET_MODEL } from './model.js';
import { scanBuffer, segmentFrames } from './scan.js';
import {
  type AgentSetup,
  agentEnv,
  agentStatus,
  drainAndRead,
  FaultStack,
  httpPort,
  openedLines,
  tempDataDir,
} from './stack.js';

type Damage = 'truncate-mid-record' | 'append-garbage';

describe('a damaged tail of the newest buffer segment', () => {
  let stack: FaultStack;

  beforeAll(async () => {
    stack = await (await FaultStack.create()).start();
  });

  afterAll(async () => {
    await stack?.dispose();
  });

  /**
   * Fills the buffer offline (nothing is sent, so every record is still only on disk), damages the
   * newest segment while the agent is stopped, and returns what the damage left intact.
   */
  async function fillAndDamage(a: AgentSetup, damage: Damage) {
    const offline = await spawnAgent(agentEnv({ ...a, natsUrl: `nats://127.0.0.1:${await freePort()}` }));
    const port = await httpPort(offline);
    await waitFor('records buffered offline', async () =>
      (await agentStatus(port)).buffer.headSeq > 500 ? true : undefined,
    );
    // A clean stop persists the seq floor, so the seqs of records cut below are never reused.
    // (Offline, the agent's stop takes several seconds: see the report on shutdown latency.)
    await offline.stop(60_000);
    expect(offline.exitCode).toBe(0);
    const before = await scanBuffer(join(a.dataDir, 'buffer'));
    const newest = join(a.dataDir, 'buffer', before.segments.at(-1)!);
    const frames = segmentFrames(await readFile(newest));
    const cut = frames.at(-3)!;
    if (damage === 'truncate-mid-record') await truncate(newest, cut.offset + Math.floor((cut.end - cut.offset) / 2));
    else await appendFile(newest, Buffer.from('\x07garbage after the last record, like a torn write\x00\xff'));
    const after = await scanBuffer(join(a.dataDir, 'buffer'));
    return { before, after };
  }

  it.each<Damage>(['truncate-mid-record', 'append-garbage'])(
    'restarts after %s, reports the torn tail and delivers every record before the tear exactly once',
    async (damage) => {
      const dataDir = await tempDataDir('torn');
      const a: AgentSetup = {
        agentId: `torn-${damage.split('-')[0]}`,
        dataDir,
        natsUrl: stack.natsUrl,
        trustKey: await installSignedModel(dataDir, QUIET_MODEL),
      };
      const { before, after } = await fillAndDamage(a, damage);
      const cutSeqs = [...before.records.keys()].filter((s) => !after.records.has(s));
      expect(cutSeqs.length).toBe(damage === 'truncate-mid-record' ? 3 : 0);

      // Restart online: it must start, say what it cut, and keep producing and sending.
      const agent = await spawnAgent(agentEnv(a));
      const opened = openedLines(agent.stdout).at(-1)!;
      expect(opened.tornTail).toMatchObject({ segment: before.segments.at(-1), truncatedBytes: expect.any(Number) });
      expect(opened.tornTail!.truncatedBytes).toBeGreaterThan(0);
      expect(opened.corruptions).toEqual([]);
      const port = await httpPort(agent);
      await waitFor('new records after the restart', async () =>
        (await agentStatus(port)).buffer.headSeq > opened.headSeq + 100 ? true : undefined,
      );
      await sleep(500);
      await agent.stop(60_000);

      const { head, stored } = await drainAndRead(stack, a);
      expect(head).toBeGreaterThan(opened.headSeq);
      const missingBefore = [...after.records.keys()].filter((s) => !stored.has(s));
      expect(missingBefore).toEqual([]);
      // The cut records were lost with the damage; their seqs are never given to new records.
      for (const s of cutSeqs) expect(stored.has(s)).toBe(false);
      const unassigned: number[] = [];
      for (let s = 1; s <= head; s++) if (!stored.has(s)) unassigned.push(s);
      expect(unassigned).toEqual(cutSeqs);
      console.info(
        `${damage}: tornTail ${JSON.stringify(opened.tornTail)}, records before tear ${after.records.size}, ` +
          `cut ${cutSeqs.length}, final head ${head}, stored ${stored.size}`,
      );
    },
    240_000,
  );
});
