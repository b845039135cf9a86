import { readFile } from 'node:fs/promises';
import { subjects } from '@millwright/proto';
import { type ConnectionOptions, connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { MillwrightError } from '../../domain/errors.js';

/**
 * Connects to NATS and keeps reconnecting forever: the agent works offline and catches up later, so
 * the returned promise resolves whenever the first connection succeeds (an agent booted during a
 * network outage starts without the broker). A first connection that fails is retried every
 * `retryMs`; `onConnectError` hears of the first failure and of every change of reason, so a
 * certificate the agent does not trust is reported instead of retried in silence.
 * @throws MillwrightError UNAVAILABLE (rejects) once `signal` aborts before a connection succeeded:
 *   no attempt starts after that, and one that succeeds late is closed at once.
 */
export async function connectNats(opts: {
  url: string;
  credsFile?: string | undefined;
  agentId: string;
  tls?: NatsTls;
  onConnectError?: (err: Error) => void;
  /** @default 1000 */
  retryMs?: number;
  /** Stops the retries (agent shutdown). */
  signal?: AbortSignal;
}): Promise<NatsConnection> {
  const { signal } = opts;
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
    if (signal?.aborted) throw aborted(opts.url);
    try {
      return await untilAborted(connect(options), signal, opts.url);
    } catch (err) {
      if (signal?.aborted) throw aborted(opts.url);
      const e = err instanceof Error ? err : new Error(String(err));
      if (e.message !== lastReason) opts.onConnectError?.(e);
      lastReason = e.message;
      await sleep(opts.retryMs ?? 1000, signal);
    }
  }
}

function aborted(url: string): MillwrightError {
  return new MillwrightError('UNAVAILABLE', 'NATS connect aborted before a connection succeeded', { url });
}

/** The attempt, or a rejection as soon as `signal` aborts; a connection that arrives after that is closed. */
function untilAborted(attempt: Promise<NatsConnection>, signal: AbortSignal | undefined, url: string) {
  if (!signal) return attempt;
  return new Promise<NatsConnection>((resolve, reject) => {
    const onAbort = () => reject(aborted(url));
    signal.addEventListener('abort', onAbort, { once: true });
    attempt.then(
      (nc) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) void nc.close();
        else resolve(nc);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** Resolves after `ms`, or at once when `signal` aborts (the caller checks it). */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
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
