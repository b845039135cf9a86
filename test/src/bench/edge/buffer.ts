/**
 * `edge.buffer.*`: group-committed appends of 200-byte records from concurrent producers, each
 * acknowledged only once durable, against bare loops making the same batches durable: write +
 * fdatasync, and one O_DSYNC write (what the buffer does), whichever is faster.
 */
import { closeSync, constants, fdatasyncSync, openSync, rmSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DurableBuffer } from '@millwright/edge-agent/buffer/durable-buffer.js';
import type { RecordClassName } from '@millwright/edge-agent/buffer/record-class.js';
import type { AppendEntry } from '@millwright/edge-agent/buffer/types.js';
import { type BenchContext, percentile } from '../report.js';

const RECORD_BYTES = 200;
/** 200-byte body plus the buffer's 25-byte frame header. */
const FRAMED_RECORD_BYTES = 225;
const PRODUCERS = 16;
const RECORDS_PER_CALL = 64;
const DURATION_MS = 4_000;

export async function benchBuffer(ctx: BenchContext): Promise<void> {
  const base = argValue(ctx.args, '--data') ?? tmpdir();
  const dir = await mkdtemp(join(base, 'mw-bench-buffer-'));
  try {
    // Disk speed drifts with whatever else the machine does: the bare loops run right before and
    // right after the buffer, and the fastest of them is the baseline (the ratio is a lower bound).
    const warm = await measureBuffer(join(dir, 'warm'), 1_000);
    const bareBefore = bareLoops(dir, 'before', warm.commits);
    const run = await measureBuffer(join(dir, 'buffer'), DURATION_MS);
    const bareAfter = bareLoops(dir, 'after', run.commits);
    const perS = run.records / (run.elapsedMs / 1000);
    const bareRecords = Math.max(...bareBefore, ...bareAfter);
    const avgBatch = run.commits.reduce((a, b) => a + b, 0) / run.commits.length;
    const fmt = (xs: number[]): string => xs.map((x) => x.toFixed(0)).join(' / ');
    ctx.log(
      `${run.records} records by ${PRODUCERS} producers x ${RECORDS_PER_CALL}/call in ${run.elapsedMs.toFixed(0)} ms; ` +
        `${run.commits.length} group commits, avg ${(avgBatch / 1024).toFixed(1)} KiB; bare loops ` +
        `(write+fdatasync / O_DSYNC write) before ${fmt(bareBefore)}, after ${fmt(bareAfter)} records/s`,
    );
    ctx.emit({
      metric: 'edge.buffer.append_per_s',
      value: perS,
      unit: 'records/s',
      baseline: 'bare_write_fdatasync',
      baseline_value: bareRecords,
    });
    const lat = run.latencies.subarray(0, run.calls);
    ctx.emit({ metric: 'edge.buffer.ack_p99_ms', value: percentile(lat, 99), unit: 'ms' });
    ctx.log(`ack p50 ${percentile(lat, 50).toFixed(2)} ms, p99.9 ${percentile(lat, 99.9).toFixed(2)} ms`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface ProducerRun {
  records: number;
  calls: number;
  elapsedMs: number;
  latencies: Float64Array;
  /** Bytes of each group commit, in order. */
  commits: number[];
}

async function measureBuffer(dir: string, durationMs: number): Promise<ProducerRun> {
  const commits: number[] = [];
  const buf = await DurableBuffer.open({
    dir,
    capacityBytes: 8 * 2 ** 30,
    onGroupCommit: (_records, bytes) => commits.push(bytes),
  });
  const run = await runProducers(buf, PRODUCERS, RECORDS_PER_CALL, durationMs);
  await buf.close();
  await rm(dir, { recursive: true, force: true });
  run.commits = commits;
  return run;
}

async function runProducers(
  buf: DurableBuffer,
  producers: number,
  perCall: number,
  durationMs: number,
): Promise<ProducerRun> {
  const latencies = new Float64Array(4_000_000);
  const out: ProducerRun = { records: 0, calls: 0, elapsedMs: 0, latencies, commits: [] };
  const t0 = performance.now();
  const until = t0 + durationMs;
  const producer = async (p: number): Promise<void> => {
    const entries = makeEntries(perCall, p, 'TELEMETRY');
    while (performance.now() < until) {
      const start = performance.now();
      await buf.append(entries);
      if (out.calls < latencies.length) latencies[out.calls++] = performance.now() - start;
      out.records += perCall;
    }
  };
  await Promise.all(Array.from({ length: producers }, (_, p) => producer(p)));
  out.elapsedMs = performance.now() - t0;
  return out;
}

/** Both bare loops over `batches`: write + fdatasync, then O_DSYNC writes (where the platform has it). */
function bareLoops(dir: string, tag: string, batches: readonly number[]): number[] {
  const out = [bareWriteDurable(join(dir, `bare-${tag}-fdatasync`), batches, false)];
  if (constants.O_DSYNC !== undefined) out.push(bareWriteDurable(join(dir, `bare-${tag}-dsync`), batches, true));
  return out;
}

/**
 * The same bytes in the same batch sizes, made durable by a bare synchronous loop: each written and
 * fdatasync'd, or written to a file opened with O_DSYNC (`dsync`).
 * @returns records per second (a record being the 225 framed bytes the buffer writes per 200-byte body).
 */
function bareWriteDurable(path: string, batches: readonly number[], dsync: boolean): number {
  const max = Math.max(...batches);
  const bytes = Buffer.alloc(max, 0x5a);
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | (dsync ? constants.O_DSYNC : 0);
  const fd = openSync(path, flags);
  try {
    const t0 = performance.now();
    for (const n of batches) {
      writeSync(fd, bytes, 0, n);
      if (!dsync) fdatasyncSync(fd);
    }
    const total = batches.reduce((a, b) => a + b, 0);
    return total / FRAMED_RECORD_BYTES / ((performance.now() - t0) / 1000);
  } finally {
    closeSync(fd);
    rmSync(path);
  }
}

function makeEntries(n: number, seed: number, cls: RecordClassName, bodyBytes = RECORD_BYTES): AppendEntry[] {
  return Array.from({ length: n }, (_, i) => {
    const body = new Uint8Array(bodyBytes);
    for (let k = 0; k < bodyBytes; k++) body[k] = (seed * 131 + i * 7 + k) & 0xff;
    return { cls, tsMs: Date.now(), body };
  });
}

/**
 * Appends `n` records of `bodyBytes` (default 200) to `buf` as fast as the buffer takes them
 * (concurrent calls of `perCall` records), e.g. to fill a buffer for the sync replay bench.
 * @returns the first and last seq written.
 */
export async function fillBuffer(
  buf: DurableBuffer,
  n: number,
  opts: { bodyBytes?: number; perCall?: number; cls?: RecordClassName; concurrency?: number } = {},
): Promise<{ firstSeq: number; lastSeq: number }> {
  const perCall = opts.perCall ?? 1024;
  const entries = makeEntries(perCall, 1, opts.cls ?? 'TELEMETRY', opts.bodyBytes ?? RECORD_BYTES);
  let left = n;
  let firstSeq = Number.POSITIVE_INFINITY;
  let lastSeq = 0;
  const worker = async (): Promise<void> => {
    while (left > 0) {
      const k = Math.min(perCall, left);
      left -= k;
      const first = await buf.append(k === perCall ? entries : entries.slice(0, k));
      firstSeq = Math.min(firstSeq, first);
      lastSeq = Math.max(lastSeq, first + k - 1);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 4 }, worker));
  return { firstSeq: n > 0 ? firstSeq : 0, lastSeq };
}

function argValue(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}
