import type { Consumer, JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import type { Delivery } from '../../ingest/ports.js';
import type { RecordIngest } from '../../ingest/records.js';
import { ConsumeLoop } from './consume-loop.js';
import type { DeadLetterCode, DeadLetterSink } from './dead-letters.js';
import { parseRecordBatch } from './record-batch.js';

export interface RecordBatchConsumerDeps {
  /** The shared durable pull consumer `cp-records`: a queue across replicas. */
  consumer: Consumer;
  ingest: RecordIngest;
  deadLetters: DeadLetterSink;
  log: Logger;
  /** Flush at least this often. */
  flushMs: number;
  /** Flush as soon as this many records are waiting. */
  flushRecords: number;
  maxMessageBytes: number;
  /** Messages pulled per request. */
  pullBatch: number;
  /**
   * Groups committing at once (each on its own pooled connection): one Postgres backend per group,
   * so two keep both cores of a small box busy while this process decodes the next group.
   * @default 2
   */
  flushConcurrency?: number;
}

/**
 * Pulls record batches, dead-letters bad ones (ingest never stops on bad input) and hands good ones
 * to the ingest use case in groups: one Postgres transaction per group, acks after it commits.
 */
export class RecordBatchConsumer {
  private pending: Delivery[] = [];
  private pendingRecords = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;

  private readonly pull: ConsumeLoop;

  constructor(private readonly deps: RecordBatchConsumerDeps) {
    this.pull = new ConsumeLoop({
      consumer: deps.consumer,
      maxMessages: deps.pullBatch,
      yieldEvery: 4,
      log: deps.log,
      failureEvent: 'ingest.records.consume_failed',
      onMessage: (m) => this.accept(m),
    });
  }

  start(): void {
    this.timer = setInterval(() => {
      if (this.inFlight.size < this.concurrency) void this.flush();
    }, this.deps.flushMs);
    this.pull.start();
  }

  /** Stops pulling, then stores and acks what was already received. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.pull.stop();
    await this.flush();
    await Promise.all(this.inFlight);
  }

  private get concurrency(): number {
    return this.deps.flushConcurrency ?? 2;
  }

  private async accept(m: JsMsg): Promise<void> {
    const parsed = parseRecordBatch(m.subject, m.data, this.deps.maxMessageBytes);
    if (!parsed.ok) {
      await this.deadLetter(m, parsed.code, parsed.reason, parsed.agentId);
      return;
    }
    this.pending.push({ batch: parsed.batch, ack: () => m.ack(), nak: (ms) => m.nak(ms) });
    this.pendingRecords += parsed.batch.records.length;
    // Backpressure: wait for the previous group's commit instead of piling up unacked messages.
    if (this.pendingRecords >= this.deps.flushRecords) await this.flush();
  }

  private async deadLetter(m: JsMsg, code: DeadLetterCode, reason: string, agentId?: string): Promise<void> {
    try {
      await this.deps.deadLetters.send(m.subject, code, reason, m.data, agentId);
      m.term();
    } catch (err) {
      // The dead-letter stream is unreachable: leave the message for redelivery rather than lose it.
      m.nak(1000);
      this.deps.log.warn({ err, subject: m.subject, code }, 'ingest.records.dead_letter_failed');
    }
  }

  /**
   * Starts one group's flush once fewer than `flushConcurrency` are committing, and resolves when it
   * has started: the next group fills while this one commits. Groups may commit in either order,
   * as with two replicas: the store's stream locks and the watermark's compare-and-set make that safe.
   */
  private async flush(): Promise<void> {
    while (this.inFlight.size >= this.concurrency) await Promise.race(this.inFlight);
    const group = this.pending;
    this.pending = [];
    this.pendingRecords = 0;
    const done: Promise<void> = this.deps.ingest
      .flush(group)
      .catch((err: unknown) => this.deps.log.error({ err }, 'ingest.records.flush_crashed'))
      .finally(() => this.inFlight.delete(done));
    this.inFlight.add(done);
  }
}
