import { readFile } from 'node:fs/promises';
import { subjects } from '@millwright/proto';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';

export interface NatsConnectOptions {
  url: string;
  credsFile?: string;
  /** Client name shown in server monitoring, and the base of this client's private inbox prefix. */
  name: string;
}

/** Connects with reconnects forever; every client gets its own inbox prefix (see docs/ARCHITECTURE.md). */
export async function connectNats(opts: NatsConnectOptions): Promise<NatsConnection> {
  const authenticator = opts.credsFile ? credsAuthenticator(await readFile(opts.credsFile)) : undefined;
  return connect({
    servers: opts.url.split(','),
    name: opts.name,
    inboxPrefix: subjects.inboxPrefix(opts.name),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    ...(authenticator ? { authenticator } : {}),
  });
}
