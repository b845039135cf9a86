import { isIPv4 } from 'node:net';
import { type ChannelCredentials, type Client, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';

/** Exit codes scripts can rely on (documented in docs/CLI.md). */
export const EXIT = {
  OK: 0,
  ERROR: 1,
  USAGE: 2,
  NOT_FOUND: 3,
  INVALID: 4,
  UNAVAILABLE: 5,
  DENIED: 6,
  CONFLICT: 7,
} as const;

/** The one table from gRPC status to CLI exit code. */
export function exitCodeFor(code: status | undefined): number {
  switch (code) {
    case status.NOT_FOUND:
      return EXIT.NOT_FOUND;
    case status.INVALID_ARGUMENT:
      return EXIT.INVALID;
    case status.UNAVAILABLE:
    case status.DEADLINE_EXCEEDED:
      return EXIT.UNAVAILABLE;
    case status.UNAUTHENTICATED:
    case status.PERMISSION_DENIED:
      return EXIT.DENIED;
    case status.FAILED_PRECONDITION:
    case status.ALREADY_EXISTS:
    case status.ABORTED:
      return EXIT.CONFLICT;
    default:
      return EXIT.ERROR;
  }
}

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export interface CallOptions {
  token?: string;
  /** TLS channel (`--ca FILE` / MW_CA_FILE, `--tls`); plaintext when absent. */
  channel?: ChannelCredentials;
  /** `--allow-plaintext`: the token may be sent without TLS to a non-loopback server. */
  allowPlaintext?: boolean;
  /** Sent as `x-mw-actor` for audit entries until API tokens identify the caller (security issue). */
  actor?: string;
  timeoutMs: number;
}

/** Calls a ts-proto generated unary method as a promise, mapping failures to CliError. */
export function call<Req, Res>(
  client: Client,
  method: (
    req: Req,
    md: Metadata,
    opts: { deadline: Date },
    cb: (err: ServiceError | null, res: Res) => void,
  ) => unknown,
  req: Req,
  opts: CallOptions,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    method.call(client, req, metadataOf(opts), { deadline: new Date(Date.now() + opts.timeoutMs) }, (err, res) => {
      if (!err) return resolve(res);
      reject(cliErrorOf(err));
    });
  });
}

/** Call metadata: the bearer token and the development actor. */
export function metadataOf(opts: Pick<CallOptions, 'token' | 'actor'>): Metadata {
  const md = new Metadata();
  if (opts.token) md.set('authorization', `Bearer ${opts.token}`);
  if (opts.actor) md.set('x-mw-actor', opts.actor);
  return md;
}

/** A gRPC failure as a CliError: status name, details, the offending field, and a hint for TLS trouble. */
export function cliErrorOf(err: ServiceError): CliError {
  const field = err.metadata?.get('mw-field')[0];
  const msg = `${status[err.code] ?? err.code}: ${err.details || err.message}${field ? ` (field: ${field})` : ''}`;
  return new CliError(`${msg}${tlsHint(err.details || err.message)}`, exitCodeFor(err.code));
}

/** grpc-js reports TLS failures as UNAVAILABLE with OpenSSL's words; say what to do about them. */
function tlsHint(text: string): string {
  if (/alert (certificate required|bad certificate|unknown ca|certificate unknown)/i.test(text))
    return ' (TLS: the server requires a client certificate it trusts; pass --cert and --key)';
  if (/certificate|self[- ]signed|unable to get (local )?issuer/i.test(text))
    return ' (TLS: the server certificate is not trusted; pass --ca with the CA that signed it)';
  if (/wrong version number|packet length too long|record layer failure|ssl3_get_record/i.test(text))
    return ' (TLS: the server does not speak TLS on that port, or speaks it while mwctl does not)';
  return '';
}

export const insecure = credentials.createInsecure;

/**
 * The channel of a command: TLS when `--ca`/`--tls` was given, else plaintext, which is refused when a
 * token would go to a non-loopback server (see refusePlaintextToken).
 */
export function channelOf(
  opts: Pick<CallOptions, 'channel' | 'token' | 'allowPlaintext'> & { server: string },
): ChannelCredentials {
  if (opts.channel) return opts.channel;
  refusePlaintextToken(hostOfTarget(opts.server), opts.token, opts.allowPlaintext);
  return credentials.createInsecure();
}

/** TLS trusting the PEM CA (the system CAs when absent), presenting a client certificate when given. */
export function tlsChannel(caPem?: Buffer, client?: { certPem: Buffer; keyPem: Buffer }): ChannelCredentials {
  return credentials.createSsl(caPem ?? null, client?.keyPem ?? null, client?.certPem ?? null);
}

/**
 * Refuses (exit 2) to send `token` in plaintext to a host that is not loopback: a bearer token read off
 * the wire is a login. Names are not resolved: only `localhost`, 127.0.0.0/8, ::1 and unix sockets count.
 */
export function refusePlaintextToken(host: string, token: string | undefined, allowPlaintext?: boolean): void {
  if (!token || allowPlaintext || isLoopbackHost(host)) return;
  throw new CliError(
    `refusing to send the API token in plaintext to ${host}: use TLS (--ca FILE or --tls), ` +
      'or pass --allow-plaintext (MW_ALLOW_PLAINTEXT=true) if that network is trusted',
    EXIT.USAGE,
  );
}

/** The host of a gRPC target (`host:port`, `[v6]:port`, `dns:///host:port`, `ipv4:…`, `unix:…`). */
export function hostOfTarget(target: string): string {
  if (target.startsWith('unix:')) return 'unix';
  const t = target.replace(/^dns:(\/\/[^/]*\/)?/, '').replace(/^ipv[46]:/, '');
  if (t.startsWith('[')) return t.slice(1, t.indexOf(']'));
  return t.split(':').length === 2 ? t.slice(0, t.indexOf(':')) : t;
}

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'unix' || h === 'localhost' || h === '::1') return true;
  return isIPv4(h) && h.startsWith('127.');
}
