import { type JetStreamClient, jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { MillwrightError } from '../../domain/errors.js';

/**
 * The agent's NATS connection as something that may not exist yet: an agent booted while the plant
 * network is down must start inference from local disk at once, and connect whenever it can.
 * Adapters ask for the connection per operation; while offline they get UNAVAILABLE and retry.
 */
export class NatsLink {
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private closed = false;
  readonly ready: Promise<NatsConnection>;

  constructor(connecting: Promise<NatsConnection>) {
    this.ready = connecting.then((nc) => {
      this.nc = nc;
      this.js = jetstream(nc);
      if (this.closed) void nc.close();
      return nc;
    });
    this.ready.catch(() => {});
  }

  /** @throws MillwrightError UNAVAILABLE before the first connection. */
  connection(): NatsConnection {
    if (!this.nc) throw new MillwrightError('UNAVAILABLE', 'not connected to NATS yet');
    return this.nc;
  }

  /** @throws MillwrightError UNAVAILABLE before the first connection. */
  jetstream(): JetStreamClient {
    this.connection();
    return this.js!;
  }

  get connected(): boolean {
    return this.nc !== undefined && !this.nc.isClosed();
  }

  /** Drains when connected; a connection still being attempted is closed once it succeeds. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.nc && !this.nc.isClosed()) await this.nc.drain();
  }
}
