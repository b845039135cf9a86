import type { Consumer, JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';

export interface ConsumeLoopOptions {
  consumer: Consumer;
  /** Messages per pull. */
  maxMessages: number;
  /** Yield to the event loop every this many messages. @default 256 */
  yieldEvery?: number;
  log: Logger;
  /** Log event on a failed pull, e.g. 'ingest.records.consume_failed'. */
  failureEvent: string;
  onMessage: (m: JsMsg) => Promise<void>;
}

/**
 * Pulls from a durable consumer until stopped, pulling again after a failure (broker restarts,
 * lost consumers) with a short pause. Shared by every ingest consumer of the control plane.
 */
export class ConsumeLoop {
  private stopped = false;
  private loop: Promise<void> | undefined;
  private stopConsuming: () => void = () => {};

  constructor(private readonly o: ConsumeLoopOptions) {}

  start(): void {
    this.loop = this.run();
  }

  /** Stops pulling; resolves once no message will be handed to `onMessage` any more. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopConsuming();
    await this.loop;
  }

  private async run(): Promise<void> {
    const every = this.o.yieldEvery ?? 256;
    while (!this.stopped) {
      try {
        const msgs = await this.o.consumer.consume({ max_messages: this.o.maxMessages });
        this.stopConsuming = () => void msgs.stop();
        let n = 0;
        for await (const m of msgs) {
          await this.o.onMessage(m);
          // Buffered messages come as one chain of microtasks: yield now and then so API calls and
          // flush completions are not held up behind a whole pull.
          if (++n % every === 0) await new Promise<void>((r) => setImmediate(r));
        }
      } catch (err) {
        if (this.stopped) return;
        this.o.log.warn({ err }, this.o.failureEvent);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }
}
