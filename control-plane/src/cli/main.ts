#!/usr/bin/env node
/**
 * mwctl: the platform team's CLI. Talks to the control plane's gRPC API (MW_SERVER or --server).
 * Exit codes: see client.ts EXIT and docs/CLI.md.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { userInfo } from 'node:os';
import { pathToFileURL } from 'node:url';
import { runMigrations } from '../adapters/postgres/db.js';
import { ALERTS_USAGE, alertsCommand } from './alerts.js';
import { type ParsedArgs, parseArgs } from './args.js';
import { AUDIT_USAGE, auditCommand } from './audit.js';
import { CliError, EXIT } from './client.js';
import { fleetCommand } from './fleet.js';
import { MODELS_USAGE, modelsCommand } from './models.js';
import { NATS_USAGE, natsCommand } from './nats-auth.js';
import { RETRAINING_USAGE, retrainingCommand } from './retraining.js';
import { ROLLOUTS_USAGE, rolloutsCommand, stopRollouts } from './rollouts.js';
import { sitesCommand } from './sites.js';
import { tokensCommand } from './tokens.js';
import { TOKENS_API_USAGE, tokensApiCommand } from './tokens-api.js';
import { TRANSPORT_USAGE, transportOf } from './transport.js';

const USAGE = `usage: mwctl [--server HOST:PORT] [--token TOKEN] [--ca FILE] [--json] COMMAND
${TRANSPORT_USAGE}

commands:
  fleet ls [--site S] [--line L] [--label k=v]... [--health online|stale|offline|decommissioned] [--limit N]
  fleet get AGENT_ID
  fleet history AGENT_ID [--since 24h] [--limit N]
  fleet decommission AGENT_ID --reason TEXT
  fleet pin|unpin AGENT_ID [--reason TEXT]
  sites ls | sites get SITE_ID
  sites create|update SITE_ID [--name N] [--tz ZONE] [--line ID[=NAME]]... [--window 'CRON for DURATION']...
  tokens create --site SITE_ID [--ttl 24h] [--max-uses N]
  tokens revoke TOKEN_ID
${TOKENS_API_USAGE}
${AUDIT_USAGE}
${NATS_USAGE}
${MODELS_USAGE}
${ALERTS_USAGE}
${ROLLOUTS_USAGE}
${RETRAINING_USAGE}
  migrate [--database-url URL]       apply database migrations (also done by mw-control-plane on start)

environment: MW_SERVER (default 127.0.0.1:7443), MW_TOKEN, MW_TOKEN_FILE, MW_CA_FILE, MW_TLS, MW_CERT_FILE, MW_KEY_FILE, MW_ALLOW_PLAINTEXT, MW_DATABASE_URL, MW_ACTOR (--actor; default the OS user)`;

function osUser(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
}

/** `--token`, `--token-file`, then `MW_TOKEN`, `MW_TOKEN_FILE` (a file keeps the token out of `ps`). */
export function tokenOf(args: ParsedArgs, env: NodeJS.ProcessEnv): string | undefined {
  const flagFile = args.flags['token-file']?.[0];
  if (args.flags.token?.[0]) return args.flags.token[0];
  if (flagFile) return readToken(flagFile);
  if (env.MW_TOKEN) return env.MW_TOKEN;
  return env.MW_TOKEN_FILE ? readToken(env.MW_TOKEN_FILE) : undefined;
}

function readToken(file: string): string {
  try {
    const token = readFileSync(file, 'utf8').trim();
    if (!token) throw new Error('empty');
    return token;
  } catch (err) {
    throw new CliError(`--token-file: cannot read a token from ${file}: ${(err as Error).message}`, EXIT.USAGE);
  }
}

export function timeoutOf(text: string | undefined): number {
  if (text === undefined) return 15_000;
  const ms = Number(text);
  if (!Number.isFinite(ms) || ms <= 0)
    throw new CliError(`--timeout expects milliseconds, got ${JSON.stringify(text)}`, EXIT.USAGE);
  return ms;
}

export async function run(argv: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const args: ParsedArgs = parseArgs(argv);
  const [command, ...rest] = args.positionals;
  if (!command || args.flags.help) return USAGE;
  const sub = { ...args, positionals: rest };
  const opts = {
    server: args.flags.server?.[0] ?? env.MW_SERVER ?? '127.0.0.1:7443',
    token: tokenOf(args, env),
    timeoutMs: timeoutOf(args.flags.timeout?.[0]),
    actor: args.flags.actor?.[0] ?? env.MW_ACTOR ?? osUser(),
    ...transportOf(args, env),
  };
  switch (command) {
    case 'fleet':
      if (rest[0] === 'stop-rollouts') return stopRollouts(sub, opts);
      return fleetCommand(sub, opts);
    case 'rollouts':
      return rolloutsCommand(sub, opts);
    case 'sites':
      return sitesCommand(sub, opts);
    case 'tokens':
      return tokensCommand(sub, opts);
    case 'tokens-api':
      return tokensApiCommand(sub, opts, env);
    case 'audit':
      return auditCommand(sub, opts);
    case 'nats':
      return natsCommand(sub);
    case 'retraining':
      return retrainingCommand(sub, opts);
    case 'alerts':
      return alertsCommand(sub, opts, env);
    case 'models':
      return modelsCommand(sub, opts);
    case 'migrate': {
      const url = args.flags['database-url']?.[0] ?? env.MW_DATABASE_URL;
      if (!url) throw new CliError('migrate needs --database-url or MW_DATABASE_URL', EXIT.USAGE);
      await runMigrations(url);
      return 'migrations applied';
    }
    default:
      throw new CliError(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`, EXIT.USAGE);
  }
}

/**
 * grpc-js gives the server's address as TLS server name; for an IP address (`--server 10.0.0.5:7443`)
 * Node warns once (DEP0123) and ignores the name. The certificate is still checked against the IP,
 * so the warning would only clutter stderr, which scripts read.
 */
function quietTlsServerNameWarning(): void {
  process.removeAllListeners('warning');
  process.on('warning', (w: Error & { code?: string }) => {
    if (w.code !== 'DEP0123') process.stderr.write(`${w.name}: ${w.message}\n`);
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  quietTlsServerNameWarning();
  run(process.argv.slice(2), process.env).then(
    (out) => {
      process.stdout.write(`${out}\n`);
    },
    (err: unknown) => {
      const code = err instanceof CliError ? err.exitCode : EXIT.ERROR;
      process.stderr.write(`mwctl: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = code;
    },
  );
}
