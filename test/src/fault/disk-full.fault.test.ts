import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, spawnAgent, waitFor } from '../harness/index.js';
import { installSignedModel, QUIET_MODEL } from './model.js';
import { agentEnv, agentMetrics, agentStatus, httpPort, metric, tempDataDir } from './stack.js';

const exec = promisify(execFile);

describe('a real full filesystem under the buffer (8 MiB tmpfs)', () => {
  let mountDir: string | undefined;

  afterAll(async () => {
    if (mountDir) await exec('umount', ['-l', mountDir]).catch(() => {});
  });

  it('fails appends with a clear error, keeps the agent running, and buffers again once space returns', async () => {
    mountDir = await tempDataDir('enospc');
    // Needs root (CAP_SYS_ADMIN); this machine's test runs have it.
    await exec('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mountDir]);
    const dataDir = join(mountDir, 'data');
    await mkdir(dataDir);
    const trustKey = await installSignedModel(dataDir, QUIET_MODEL);
    const filler = join(mountDir, 'filler');
    await writeFile(filler, Buffer.alloc(7 * 1024 * 1024));
    const agent = await spawnAgent(
      agentEnv({
        agentId: 'enospc-1',
        dataDir,
        trustKey,
        natsUrl: `nats://127.0.0.1:${await freePort()}`,
        extra: { MW_BUFFER_CAPACITY_BYTES: String(64 * 1024 * 1024), MW_BUFFER_SEGMENT_BYTES: String(1024 * 1024) },
      }),
    );
    try {
      const port = await httpPort(agent);
      await agent.waitForOutput(/"buffer\.append_failed"/, 120_000);
      expect(agent.stdout).toMatch(/filesystem full/);
      const failed = metric(await agentMetrics(port), 'mw_agent_buffer_append_failures_total');
      expect(failed).toBeGreaterThan(0);
      expect(agent.running).toBe(true);
      const stuck = (await agentStatus(port)).buffer.headSeq;
      await rm(filler);
      await waitFor(
        'appends succeed again',
        async () => ((await agentStatus(port)).buffer.headSeq > stuck + 200 ? true : undefined),
        60_000,
      );
      console.info(`ENOSPC: ${failed} records refused while full, head ${stuck} before space returned`);
    } finally {
      await agent.stop(60_000);
    }
  }, 300_000);
});
