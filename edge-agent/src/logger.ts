import pino, { type Logger } from 'pino';

/** Never logged in clear: credentials, tokens, presigned artifact URLs. */
export const REDACT_PATHS = [
  '*.token',
  '*.secret',
  '*.password',
  '*.creds',
  '*.seed',
  '*.artifactUrl',
  '*.url',
  '*.bootstrapToken',
  '*.authorization',
  // security: agent user JWTs, nkey seeds, API token secrets, bearer headers.
  '*.natsUserJwt',
  '*.nkeySeed',
  '*.bootstrapCredsFile',
  '*.adminToken',
  'authorization',
  '*.headers.authorization',
];

export function createLogger(opts: { level: string; version: string; agentId: string; siteId: string }): Logger {
  return pino({
    level: opts.level,
    base: { service: 'mw-agent', version: opts.version, agentId: opts.agentId, siteId: opts.siteId },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  });
}
