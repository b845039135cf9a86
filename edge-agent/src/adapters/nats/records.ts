import { CommitWatermark, RecordBatch, subjects } from '@millwright/proto';
import type { JetStreamClient } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ReadBatch } from '../../buffer/reader.js';
import type { BatchPublisher, Watermark, WatermarkFeed } from '../../sync/ports.js';

const RECORDS_FIELD_TAG = (5 << 3) | 2;

/**
 * Encodes a buffer read batch as a `RecordBatch` without decoding the records: the header fields
 * are encoded once and each stored record (already a full `Record` encoding) is appended as field 5.
 */
export function encodeRecordBatch(
  header: { agentId: string; siteId: string; bufferId: string; sentAtMs: number; firstSeq?: number },
  batch: ReadBatch,
): Uint8Array {
  const head = RecordBatch.encode({
    agentId: header.agentId,
    siteId: header.siteId,
    firstSeq: header.firstSeq ?? batch.seqs[0] ?? 0,
    lastSeq: batch.lastSeq,
    records: [],
    sentAtMs: header.sentAtMs,
    bufferId: header.bufferId,
  }).finish();
  let size = head.length;
  for (let i = 0; i < batch.count; i++) {
    const len = batch.ends[i]! - batch.starts[i]!;
    size += 1 + varintSize(len) + len;
  }
  const out = Buffer.allocUnsafe(size);
  out.set(head, 0);
  let off = head.length;
  for (let i = 0; i < batch.count; i++) {
    const start = batch.starts[i]!;
    const len = batch.ends[i]! - start;
    out[off++] = RECORDS_FIELD_TAG;
    off = writeVarint(out, off, len);
    batch.data.copy(out, off, start, start + len);
    off += len;
  }
  return out;
}

function varintSize(n: number): number {
  let s = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    s++;
  }
  return s;
}

function writeVarint(out: Buffer, off: number, n: number): number {
  while (n >= 0x80) {
    out[off++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  out[off++] = n;
  return off;
}

/** Publishes record batches to JetStream with a deterministic message id (broker-side dedupe). */
export class JetStreamBatchPublisher implements BatchPublisher {
  private readonly subject: string;

  constructor(
    private readonly deps: {
      js: JetStreamClient;
      agentId: string;
      siteId: string;
      bufferId: string;
      timeoutMs: number;
      now: () => number;
    },
  ) {
    this.subject = subjects.edge.records(deps.siteId, deps.agentId);
  }

  async publish(batch: ReadBatch, fromSeq?: number): Promise<void> {
    const { agentId, siteId, bufferId } = this.deps;
    const firstSeq = fromSeq ?? batch.seqs[0] ?? 0;
    const data = encodeRecordBatch({ agentId, siteId, bufferId, sentAtMs: this.deps.now(), firstSeq }, batch);
    const msgID = `${bufferId}:${subjects.batchMsgId(agentId, firstSeq, batch.lastSeq)}`;
    await this.deps.js.publish(this.subject, data, { msgID, timeout: this.deps.timeoutMs });
  }
}

/** Watches this agent's key in KV `mw_watermark` (only its own key: that is all it may read). */
export class KvWatermarkFeed implements WatermarkFeed {
  private stopped = false;
  private loop: Promise<void> | undefined;
  private stopWatch: (() => void) | undefined;

  constructor(
    private readonly deps: { nc: NatsConnection; siteId: string; agentId: string; onError: (err: unknown) => void },
  ) {}

  async start(onWatermark: (w: Watermark) => void): Promise<void> {
    this.loop = this.run(onWatermark);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopWatch?.();
    await this.loop;
  }

  private async run(onWatermark: (w: Watermark) => void): Promise<void> {
    const key = subjects.agentKey(this.deps.siteId, this.deps.agentId);
    while (!this.stopped) {
      try {
        const kv: KV = await new Kvm(this.deps.nc).open(subjects.KV.watermark);
        const watch = await kv.watch({ key });
        this.stopWatch = () => watch.stop();
        for await (const e of watch) {
          if (e.operation !== 'PUT' || e.value.length === 0) continue;
          const w = CommitWatermark.decode(e.value);
          onWatermark({ bufferId: w.bufferId, committedSeq: w.committedSeq });
        }
      } catch (err) {
        if (this.stopped) return;
        this.deps.onError(err);
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  }
}
