import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { DurableBuffer } from './durable-buffer.js';
import { readAll, tempDir } from './test-support.js';

const CHILD = fileURLToPath(new URL('../../dist/buffer/crash-child.fixture.js', import.meta.url));

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

interface ChildRun {
  acked: number[];
  committed: number;
}

/** Runs the child until it has acknowledged something, then kills it with SIGKILL after `delayMs`. */
function runAndKill(dir: string, delayMs: number): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let armed = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (!armed && out.includes('\nA ')) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`child exited ${code}: ${err}`));
      const acked: number[] = [];
      let committed = 0;
      for (const line of out.split('\n')) {
        const [kind, a, b] = line.split(' ');
        if (kind === 'A') for (let s = Number(a); s < Number(a) + Number(b); s++) acked.push(s);
        if (kind === 'C') committed = Math.max(committed, Number(a));
      }
      resolve({ acked, committed });
    });
  });
}

describe('DurableBuffer under kill -9', () => {
  it('keeps every acknowledged record exactly once, with unique increasing seqs, across 25 kills', async () => {
    if (!existsSync(CHILD)) throw new Error(`missing ${CHILD}: run \`pnpm exec tsc -b edge-agent\` first`);
    const t = await tempDir();
    cleanups.push(t.cleanup);
    let maxAcked = 0;
    let committed = 0;
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    let totalAcked = 0;
    for (let i = 0; i < 25; i++) {
      const run = await runAndKill(t.dir, Math.floor(rand() * 300));
      expect(run.acked.length).toBeGreaterThan(0);
      expect(Math.min(...run.acked)).toBeGreaterThan(maxAcked);
      committed = Math.max(committed, run.committed);
      maxAcked = Math.max(maxAcked, ...run.acked);
      totalAcked += run.acked.length;

      const buf = await DurableBuffer.open({ dir: t.dir, capacityBytes: 64 << 20, segmentBytes: 64 << 10 });
      expect(buf.openReport.corruptions).toEqual([]);
      const { seqs } = await readAll(buf, 0);
      for (let k = 1; k < seqs.length; k++) expect(seqs[k]).toBeGreaterThan(seqs[k - 1]!);
      // The child may have persisted a commit it had no time to print: the cursor read back must lie
      // between what it printed and what it had acknowledged.
      const cursor = buf.stats().commitCursor;
      expect(cursor).toBeGreaterThanOrEqual(committed);
      expect(cursor).toBeLessThanOrEqual(maxAcked);
      committed = cursor;
      const present = new Set(seqs);
      const missing = run.acked.filter((s) => s > committed && !present.has(s));
      expect(missing).toEqual([]);
      await buf.close();
    }
    expect(totalAcked).toBeGreaterThan(1000);
  });
});
