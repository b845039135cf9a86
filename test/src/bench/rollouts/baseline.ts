/**
 * The raw limit of a converge on this box: the same number of bare GETs of the same artifact from
 * the same S3 server, as many at once as the simulated fleet downloads, each streamed through
 * sha256 and checked (no Millwright code, no disk).
 */
import { createHash } from 'node:crypto';
import http from 'node:http';

export interface BaselineResult {
  ms: number;
  bytes: number;
  /** CPU of this process during the run, s (the client half; the server's is measured outside). */
  clientCpuS: number;
}

export async function downloadBaseline(o: {
  url: string;
  sha256: string;
  size: number;
  count: number;
  concurrency: number;
}): Promise<BaselineResult> {
  let next = 0;
  let bytes = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(o.concurrency, o.count) }, async () => {
      while (next++ < o.count) {
        const n = await getVerified(o.url, o.sha256, o.size);
        bytes += n;
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  return { ms: performance.now() - t0, bytes, clientCpuS: (cpu.user + cpu.system) / 1e6 };
}

/** One GET through sha256 (Node's default keep-alive agent, as the agent's fetcher uses). */
function getVerified(url: string, sha256: string, size: number): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return reject(new Error(`baseline GET: HTTP ${res.statusCode}`));
        }
        const hash = createHash('sha256');
        let n = 0;
        res.on('data', (chunk: Buffer) => {
          n += chunk.length;
          hash.update(chunk);
        });
        res.on('error', reject);
        res.on('end', () => {
          const got = hash.digest('hex');
          if (n !== size || got !== sha256) reject(new Error(`baseline GET: ${n} bytes, sha256 ${got}`));
          else resolve(n);
        });
      })
      .on('error', reject);
  });
}
