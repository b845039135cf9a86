import { readFile } from 'node:fs/promises';
import { subjects } from '@millwright/proto';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';

/**
 * Connects to NATS and keeps reconnecting forever: the agent works offline and catches up later.
 * `waitOnFirstConnect` lets an agent booted during a network outage start without the broker.
 */
export async function connectNats(opts: {
  url: string;
  credsFile?: string | undefined;
  agentId: string;
  tls?: NatsTls;
}): Promise<NatsConnection> {
  const authenticator = opts.credsFile ? credsAuthenticator(await readFile(opts.credsFile)) : undefined;
  return connect({
    servers: opts.url.split(','),
    name: `agent-${opts.agentId}`,
    inboxPrefix: subjects.inboxPrefix(opts.agentId),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    waitOnFirstConnect: true,
    ...(authenticator ? { authenticator } : {}),
    ...tlsOption(opts.tls),
  });
}

/** TLS files for NATS connections (config `nats.tls`). */
export interface NatsTls {
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
}

export function tlsOption(t: NatsTls | undefined): { tls?: { caFile?: string; certFile?: string; keyFile?: string } } {
  if (!t?.caFile && !t?.certFile) return {};
  return {
    tls: {
      ...(t.caFile ? { caFile: t.caFile } : {}),
      ...(t.certFile ? { certFile: t.certFile } : {}),
      ...(t.keyFile ? { keyFile: t.keyFile } : {}),
    },
  };
}
