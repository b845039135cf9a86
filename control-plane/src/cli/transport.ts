/**
 * mwctl's transport flags: TLS (`--ca`, `--tls`, `--cert`/`--key`) and `--allow-plaintext`, the only
 * way to send an API token unencrypted to another machine (see refusePlaintextToken in client.ts).
 */
import { readFileSync } from 'node:fs';
import type { ChannelCredentials } from '@grpc/grpc-js';
import type { ParsedArgs } from './args.js';
import { CliError, EXIT, tlsChannel } from './client.js';

export const TRANSPORT_USAGE = `transport: --ca FILE (MW_CA_FILE) TLS trusting that CA; --tls (MW_TLS=true) TLS trusting the system CAs;
  --cert FILE --key FILE (MW_CERT_FILE, MW_KEY_FILE) client certificate for servers that require one;
  --allow-plaintext (MW_ALLOW_PLAINTEXT=true) send the API token without TLS to a non-loopback server`;

/** Transport settings of one mwctl run, shared by the gRPC commands and the HTTP (alerts) commands. */
export interface Transport {
  /** TLS channel for gRPC; absent = plaintext. */
  channel?: ChannelCredentials;
  /** The `--ca` certificates, also trusted for `https://` HTTP API URLs. */
  caPem?: Buffer;
  /** `--allow-plaintext`: the token may go unencrypted to a non-loopback address. */
  allowPlaintext?: boolean;
}

/** Reads the transport flags (falling back to their MW_ variables); unreadable files exit 2. */
export function transportOf(args: ParsedArgs, env: NodeJS.ProcessEnv): Transport {
  const flag = (name: string, envName: string) => args.flags[name]?.at(-1) ?? env[envName];
  const caFile = flag('ca', 'MW_CA_FILE') || undefined;
  const certFile = flag('cert', 'MW_CERT_FILE') || undefined;
  const keyFile = flag('key', 'MW_KEY_FILE') || undefined;
  if (Boolean(certFile) !== Boolean(keyFile)) throw new CliError('--cert and --key go together', EXIT.USAGE);
  const caPem = caFile ? readPem('--ca', caFile) : undefined;
  const client =
    certFile && keyFile ? { certPem: readPem('--cert', certFile), keyPem: readPem('--key', keyFile) } : undefined;
  const tls = Boolean(caPem || client) || isTrue(flag('tls', 'MW_TLS'));
  return {
    ...(tls ? { channel: tlsChannel(caPem, client) } : {}),
    ...(caPem ? { caPem } : {}),
    allowPlaintext: isTrue(flag('allow-plaintext', 'MW_ALLOW_PLAINTEXT')),
  };
}

function isTrue(v: string | undefined): boolean {
  return v === 'true' || v === '1';
}

function readPem(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new CliError(`${flag}: cannot read ${file}: ${(err as Error).message}`, EXIT.USAGE);
  }
}
