import type { WebhookSender } from '../../notifications/ports.js';

/** POSTs JSON to chat or incident webhooks; anything but 2xx is a failure (retried by the caller). */
export class FetchWebhookSender implements WebhookSender {
  async send(url: string, body: Record<string, unknown>, signal: AbortSignal): Promise<void> {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'millwright-notifications' },
      body: JSON.stringify(body),
      signal,
    });
    await res.arrayBuffer().catch(() => undefined);
    if (!res.ok) throw new Error(`webhook answered ${res.status}`);
  }
}
