import { mkdtemp, rm } from 'node:fs/promises';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentConfigSchema } from './config.js';
import { startAgent } from './main.js';

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the agent process wiring', () => {
  it('stops while the broker was never reached: stop() resolves and no connect attempt follows', async () => {
    // A broker that accepts TCP and hangs up at once: every NATS connect attempt fails.
    const sockets = new Set<Socket>();
    let attempts = 0;
    const broker = createServer((socket) => {
      attempts++;
      sockets.add(socket);
      socket.destroy();
    });
    await new Promise<void>((resolve) => broker.listen(0, '127.0.0.1', resolve));
    const dataDir = await mkdtemp(join(tmpdir(), 'mw-agent-stop-'));
    try {
      const agent = await startAgent(
        AgentConfigSchema.parse({
          agentId: 'a1',
          siteId: 's1',
          dataDir,
          log: { level: 'silent' },
          http: { port: 0 },
          nats: { url: `nats://127.0.0.1:${(broker.address() as AddressInfo).port}` },
        }),
      );
      while (attempts < 2) await settle(20);
      await agent.stop();
      const seen = attempts;
      await settle(2500); // the agent retries every second
      expect(attempts).toBe(seen);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => broker.close(resolve));
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
