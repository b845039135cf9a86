/**
 * `edge.agent.rss_mb`: resident memory of the real `mw-agent` process at full pipeline load: two
 * simulated machines (4 vibration channels at 25.6 kHz plus temperature and current), a signed
 * model restored from disk scoring every window, the durable buffer and sync to a real nats-server.
 * Sampled from /proc once a second after warm-up; the figure is the maximum.
 */
import { readFile, rm } from 'node:fs/promises';
import { installSignedModel, QUIET_MODEL } from '../../fault/model.js';
import { tempDataDir } from '../../fault/stack.js';
import { NatsServer, spawnAgent } from '../../harness/index.js';
import type { BenchContext } from '../report.js';

const WARMUP_S = 5;
const SAMPLES = 10;

export async function benchAgentRss(ctx: BenchContext): Promise<void> {
  const nats = await NatsServer.start();
  const dataDir = await tempDataDir('rss');
  const trustKey = await installSignedModel(dataDir, QUIET_MODEL);
  const sim = { type: 'simulator', id: 'sim', seed: 7, assets: [{ name: 'pump1' }, { name: 'pump2' }] };
  const agent = await spawnAgent({
    MW_AGENT_ID: 'rss-bench',
    MW_SITE_ID: 'plant',
    MW_DATA_DIR: dataDir,
    MW_NATS_URL: nats.url,
    MW_TRUST_KEYS: trustKey,
    MW_SOURCES: JSON.stringify([sim]),
  });
  try {
    await new Promise((r) => setTimeout(r, WARMUP_S * 1000));
    let max = 0;
    for (let i = 0; i < SAMPLES; i++) {
      max = Math.max(max, await rssMb(agent.pid!));
      await new Promise((r) => setTimeout(r, 1000));
    }
    ctx.log(
      `agent RSS max ${max.toFixed(1)} MB over ${SAMPLES} s at full load (2 machines, 4 vibration channels at 25.6 kHz)`,
    );
    ctx.emit({ metric: 'edge.agent.rss_mb', value: max, unit: 'MB' });
  } finally {
    await agent.stop(30_000);
    await nats.dispose();
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}
