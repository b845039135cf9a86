/**
 * Live updates for the dashboard over Server-Sent Events. One poll per replica (only while someone
 * watches) compares a fleet fingerprint and pushes the new overview when it changed; control-plane
 * events from NATS (rollout decisions, fleet events) are forwarded as they arrive. Polling Postgres
 * instead of relying on NATS alone keeps every replica's viewers right, whichever replica ingested.
 */
import type { ServerResponse } from 'node:http';

/** The connection an SSE client holds: enough of ServerResponse to write to it and see it close. */
export type SseClient = Pick<ServerResponse, 'write' | 'end' | 'on' | 'writeHead'>;

export interface EventHubDeps {
  /** A cheap fingerprint of what the overview shows, and the overview itself when it changed. */
  snapshot(): Promise<{ fingerprint: string; data: unknown }>;
  pollMs: number;
  /** A keep-alive comment this often, so proxies do not close idle streams. @default 15000 */
  keepAliveMs?: number;
  onError?(err: unknown): void;
}

export class EventHub {
  private readonly clients = new Set<SseClient>();
  private timer: NodeJS.Timeout | undefined;
  private keepAlive: NodeJS.Timeout | undefined;
  private polling: Promise<void> = Promise.resolve();
  private fingerprint = '';
  private last: unknown;
  private stopped = false;

  constructor(private readonly deps: EventHubDeps) {}

  get clientCount(): number {
    return this.clients.size;
  }

  /** Takes over the response: headers, the current overview at once, then events until it closes. */
  attach(res: SseClient): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    this.clients.add(res);
    res.on('close', () => this.detach(res));
    if (this.last !== undefined) write(res, 'fleet', this.last);
    this.ensurePolling();
  }

  /** Sends an event to every client (control-plane events from NATS come in here). */
  publish(event: string, data: unknown): void {
    for (const c of this.clients) write(c, event, data);
  }

  /** Polls once now (tests and the first client do not wait a whole interval). */
  poll(): Promise<void> {
    this.polling = this.polling.then(() => this.pollOnce());
    return this.polling;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.halt();
    await this.polling;
    for (const c of this.clients) c.end();
    this.clients.clear();
  }

  private ensurePolling(): void {
    if (this.timer || this.stopped) return;
    void this.poll();
    this.timer = setInterval(() => void this.poll(), this.deps.pollMs);
    this.keepAlive = setInterval(() => {
      for (const c of this.clients) c.write(': keep-alive\n\n');
    }, this.deps.keepAliveMs ?? 15_000);
  }

  private detach(res: SseClient): void {
    this.clients.delete(res);
    if (this.clients.size === 0) this.halt();
  }

  private halt(): void {
    clearInterval(this.timer);
    clearInterval(this.keepAlive);
    this.timer = undefined;
    this.keepAlive = undefined;
  }

  private async pollOnce(): Promise<void> {
    if (this.stopped) return;
    try {
      const snap = await this.deps.snapshot();
      this.publish('tick', { atMs: Date.now() });
      if (snap.fingerprint === this.fingerprint) return;
      this.fingerprint = snap.fingerprint;
      this.last = snap.data;
      this.publish('fleet', snap.data);
    } catch (err) {
      this.deps.onError?.(err);
    }
  }
}

function write(res: SseClient, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}
