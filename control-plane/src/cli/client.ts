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
  /** TLS channel (`--ca FILE` / MW_CA_FILE); plaintext when absent. */
  channel?: ChannelCredentials;
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
  const md = new Metadata();
  if (opts.token) md.set('authorization', `Bearer ${opts.token}`);
  if (opts.actor) md.set('x-mw-actor', opts.actor);
  return new Promise((resolve, reject) => {
    method.call(client, req, md, { deadline: new Date(Date.now() + opts.timeoutMs) }, (err, res) => {
      if (!err) return resolve(res);
      const field = err.metadata?.get('mw-field')[0];
      const msg = `${status[err.code] ?? err.code}: ${err.details || err.message}${field ? ` (field: ${field})` : ''}`;
      reject(new CliError(msg, exitCodeFor(err.code)));
    });
  });
}

export const insecure = credentials.createInsecure;

/** The channel of a command: TLS when `--ca` was given, else plaintext (development). */
export function channelOf(opts: Pick<CallOptions, 'channel'>): ChannelCredentials {
  return opts.channel ?? credentials.createInsecure();
}

/** TLS trusting the PEM CA (and presenting a client certificate when given). */
export function tlsChannel(caPem: Buffer, client?: { certPem: Buffer; keyPem: Buffer }): ChannelCredentials {
  return credentials.createSsl(caPem, client?.keyPem ?? null, client?.certPem ?? null);
}
