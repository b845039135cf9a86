import { RetrainingEvent, subjects } from '@millwright/proto';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { RetrainingEventOut, RetrainingEventPublisher, RetrainingWebhook } from '../../retraining/ports.js';
import { retrainingEventToPb } from '../grpc/retraining-mapping.js';

/** Publishes RetrainingEvent on `mw.v1.cp.events.retraining` (stream MW_EVENTS keeps it 30 days). */
export class JetStreamRetrainingEvents implements RetrainingEventPublisher {
  constructor(private readonly deps: { js: JetStreamClient }) {}

  async publish(e: RetrainingEventOut): Promise<void> {
    const bytes = RetrainingEvent.encode(retrainingEventToPb(e)).finish();
    await this.deps.js.publish(subjects.events.retraining, bytes, { msgID: `retraining:${e.request.id}` });
  }
}

/** POSTs the event as proto3 JSON to the policy's webhook, retrying a few times on failure. */
export class HttpRetrainingWebhook implements RetrainingWebhook {
  constructor(private readonly opts: { timeoutMs?: number; retries?: number } = {}) {}

  async post(url: string, e: RetrainingEventOut): Promise<void> {
    const body = JSON.stringify(RetrainingEvent.toJSON(retrainingEventToPb(e)));
    let last: unknown;
    for (let attempt = 0; attempt <= (this.opts.retries ?? 3); attempt++) {
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(this.opts.timeoutMs ?? 5000),
        });
        if (res.ok) return;
        last = new Error(`webhook answered ${res.status}`);
      } catch (err) {
        last = err;
      }
      await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
    }
    throw last;
  }
}
