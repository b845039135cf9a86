import { readFile } from 'node:fs/promises';
import { subjects } from '@millwright/proto';
import { type ConnectionOptions, connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';

/**
 * Connects to NATS and keeps reconnecting forever: the agent works offline and catches up later, so
 * the returned promise resolves whenever the first connection succeeds (an agent booted during a
 * network outage starts without the broker). A first connection that fails is retried every
 * `retryMs`; `onConnectError` hears of the first failure and of every change of reason, so a
 * certificate the agent does not trust is reported instead of retried in silence.
 */
export async function connectNats(opts: {
  url: string;
  credsFile?: string | undefined;
  agentId: string;
  tls?: NatsTls;
  onConnectError?: (err: Error) => void;
  /** @default 1000 */
  retryMs?: number;
}): Promise<NatsConnection> {
  const authenticator = opts.credsFile ? credsAuthenticator(await readFile(opts.credsFile)) : undefined;
  const options: ConnectionOptions = {
    servers: opts.url.split(','),
    name: `agent-${opts.agentId}`,
    inboxPrefix: subjects.inboxPrefix(opts.agentId),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    ...(authenticator ? { authenticator } : {}),
    ...tlsOption(opts.url, opts.tls),
  };
  let lastReason = '';
  for (;;) {
    try {
      return await connect(options);
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      if (e.message !== lastReason) opts.onConnectError?.(e);
      lastReason = e.message;
      await new Promise((resolve) => setTimeout(resolve, opts.retryMs ?? 1000));
    }
  }
}

/** TLS files for NATS connections (config `nats.tls`). */
export interface NatsTls {
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
}

/**
 * The client's TLS options. TLS is required (never a plaintext fallback) when any file is given or any
 * server URL says `tls://`: the NATS client otherwise ignores the scheme and talks plaintext to a server
 * that offers no TLS. Without `caFile` the system CAs (plus NODE_EXTRA_CA_CERTS) are trusted.
 */
export function tlsOption(
  url: string,
  t: NatsTls | undefined,
): { tls?: { caFile?: string; certFile?: string; keyFile?: string } } {
  const files = {
    ...(t?.caFile ? { caFile: t.caFile } : {}),
    ...(t?.certFile ? { certFile: t.certFile } : {}),
    ...(t?.keyFile ? { keyFile: t.keyFile } : {}),
  };
  const tlsUrl = url.split(',').some((u) => u.trim().toLowerCase().startsWith('tls://'));
  return Object.keys(files).length > 0 || tlsUrl ? { tls: files } : {};
}
