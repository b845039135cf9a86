import type { AlertEvent } from '../../domain/prediction.js';

/**
 * Posts alert transitions to a local HTTP endpoint (a PLC gateway, a chat webhook): generic JSON
 * with a `text` field that chat tools accept. Retries a few times; never blocks the pipeline.
 */
export class WebhookAlertSink {
  private queue: Promise<void> = Promise.resolve();
  failures = 0;

  constructor(
    private readonly deps: {
      url: string;
      agentId: string;
      siteId: string;
      timeoutMs: number;
      retries: number;
      onError: (err: unknown) => void;
    },
  ) {}

  send(e: AlertEvent): void {
    this.queue = this.queue.then(() => this.deliver(e));
  }

  async flush(): Promise<void> {
    await this.queue;
  }

  private async deliver(e: AlertEvent): Promise<void> {
    const body = JSON.stringify({ text: e.message, agentId: this.deps.agentId, siteId: this.deps.siteId, ...e });
    for (let attempt = 0; attempt <= this.deps.retries; attempt++) {
      try {
        const res = await fetch(this.deps.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(this.deps.timeoutMs),
        });
        if (res.ok) return;
        throw new Error(`webhook answered ${res.status}`);
      } catch (err) {
        if (attempt === this.deps.retries) {
          this.failures++;
          this.deps.onError(err);
          return;
        }
        await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
      }
    }
  }
}
