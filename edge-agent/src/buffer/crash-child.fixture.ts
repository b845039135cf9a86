/**
 * Child process of the kill -9 test (run from dist): appends continuously from several producers
 * and prints `A <firstSeq> <count>` once each append is acknowledged, and `C <seq>` once a commit
 * cursor is persisted. Usage: node crash-child.fixture.js <dir>
 */
import { DurableBuffer } from './durable-buffer.js';
import type { AppendEntry } from './types.js';

async function main(dir: string): Promise<void> {
  const buf = await DurableBuffer.open({ dir, capacityBytes: 64 << 20, segmentBytes: 64 << 10 });
  const head = buf.stats().headSeq;
  process.stdout.write(`O ${head}\n`);
  let acked = head;
  const producer = async (p: number): Promise<void> => {
    for (let i = 0; ; i++) {
      const n = 1 + ((i * 7 + p) % 23);
      const entries: AppendEntry[] = [];
      for (let k = 0; k < n; k++) {
        entries.push({ cls: k % 5 === 0 ? 'ALERT' : 'TELEMETRY', tsMs: Date.now(), body: new Uint8Array(20 + k) });
      }
      const first = await buf.append(entries);
      // A commit below may only cover acks the test can see: stdout to a pipe queues in this
      // process when the test reads slowly, and a kill loses the queue. So count an ack only once
      // its line is in the pipe.
      process.stdout.write(`A ${first} ${n}\n`, () => {
        acked = Math.max(acked, first + n - 1);
      });
      if (p === 0 && i % 40 === 39) {
        const c = acked - 50;
        if (c > buf.stats().commitCursor) {
          await buf.markCommitted(c);
          process.stdout.write(`C ${c}\n`);
        }
      }
    }
  };
  await Promise.all([0, 1, 2, 3].map(producer));
}

main(process.argv[2]!).catch((err: unknown) => {
  process.stderr.write(`crash child failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
