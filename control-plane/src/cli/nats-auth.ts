import { generateNatsAuth } from '../adapters/nats/auth/init.js';
import type { ParsedArgs } from './args.js';
import { CliError, EXIT } from './client.js';

export const NATS_USAGE =
  '  nats init --out DIR [--max-consumers N]   operator, accounts, control-plane/system/bootstrap creds, server include';

/** Generates decentralised NATS auth files (offline; no server needed). */
export async function natsCommand(args: ParsedArgs): Promise<string> {
  const out = args.flags.out?.[0];
  if (args.positionals[0] !== 'init' || !out) throw new CliError(`usage:\n${NATS_USAGE}`, EXIT.USAGE);
  const maxConsumers = Number(args.flags['max-consumers']?.[0] ?? 10_000);
  if (!Number.isInteger(maxConsumers) || maxConsumers < 1)
    throw new CliError('--max-consumers expects a number', EXIT.USAGE);
  const g = await generateNatsAuth(out, { maxConsumers });
  if (args.json) return JSON.stringify(g, null, 2);
  const f = g.files;
  return [
    `wrote ${g.dir} (secrets are mode 0600: keep operator.nk offline after setup if you can)`,
    '',
    `nats-server: copy the directory next to the server config and add   ${g.serverInclude.trim()}`,
    '',
    'control plane:',
    `  MW_NATS_CREDS_FILE=${f.controlPlaneCreds}`,
    `  MW_NATS_AUTH_ACCOUNT_SEED_FILE=${f.accountSeed}`,
    `  MW_NATS_AUTH_OPERATOR_SEED_FILE=${f.operatorSeed}`,
    `  MW_NATS_AUTH_SYSTEM_CREDS_FILE=${f.systemCreds}`,
    `  MW_NATS_AUTH_PRELOAD_FILE=${f.accountsConf}`,
    `  MW_NATS_AUTH_MAX_CONSUMERS=${maxConsumers}`,
    'agents (before enrollment):',
    `  MW_ENROLL_BOOTSTRAP_CREDS_FILE=${f.bootstrapCreds}`,
  ].join('\n');
}
