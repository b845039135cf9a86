import pino, { type Logger } from 'pino';

/** Paths never logged in clear: tokens, credentials, presigned URLs. */
export const REDACT_PATHS = [
  '*.token',
  '*.secret',
  '*.password',
  '*.secretAccessKey',
  '*.accessKeyId',
  '*.bootstrapToken',
  '*.authorization',
  '*.artifactUrl',
  '*.url',
  '*.creds',
  '*.seed',
  // security: agent user JWTs, nkey seeds, API token secrets, bearer headers.
  '*.natsUserJwt',
  '*.nkeySeed',
  '*.bootstrapCredsFile',
  '*.adminToken',
  'authorization',
  '*.headers.authorization',
  'config.database.url',
  'config.s3.secretAccessKey',
];

export function createLogger(opts: {
  level: string;
  service: string;
  version: string;
  replica?: string;
  agentId?: string;
}): Logger {
  const base: Record<string, string> = { service: opts.service, version: opts.version };
  if (opts.replica) base.replica = opts.replica;
  if (opts.agentId) base.agentId = opts.agentId;
  return pino({ level: opts.level, base, redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
}
