import { FleetServiceClient } from '@millwright/proto';
import type { ParsedArgs } from './args.js';
import { type CallOptions, CliError, call, channelOf, EXIT } from './client.js';
import { parseDuration } from './duration.js';

const USAGE = `usage: mwctl tokens create --site SITE_ID [--ttl 24h] [--max-uses N]
       mwctl tokens revoke TOKEN_ID`;

/** Site bootstrap tokens for enrolling agents. */
export async function tokensCommand(args: ParsedArgs, opts: CallOptions & { server: string }): Promise<string> {
  const client = new FleetServiceClient(opts.server, channelOf(opts));
  try {
    const [sub, id] = args.positionals;
    if (sub === 'create') return await create(client, args, opts);
    if (sub === 'revoke' && id) {
      await call(client, client.revokeBootstrapToken, { tokenId: id }, opts);
      return args.json ? JSON.stringify({ tokenId: id, revoked: true }) : `revoked ${id}`;
    }
    throw new CliError(USAGE, EXIT.USAGE);
  } finally {
    client.close();
  }
}

async function create(client: FleetServiceClient, args: ParsedArgs, opts: CallOptions): Promise<string> {
  const siteId = args.flags.site?.[0];
  if (!siteId) throw new CliError(`--site is required\n${USAGE}`, EXIT.USAGE);
  const ttl = args.flags.ttl?.[0];
  const maxUses = args.flags['max-uses']?.[0];
  if (maxUses !== undefined && !/^\d+$/.test(maxUses)) throw new CliError('--max-uses expects a number', EXIT.USAGE);
  const req = { siteId, ttlS: ttl ? parseDuration(ttl, '--ttl') : 0, maxUses: Number(maxUses ?? 0) };
  const res = await call(client, client.createBootstrapToken, req, opts);
  if (args.json) return JSON.stringify(res, null, 2);
  return [
    `token id   ${res.tokenId}`,
    `token      ${res.token}`,
    `expires    ${new Date(res.expiresAtMs).toISOString()}`,
    '',
    'The token is shown only this once. Give it to the agent as enroll.bootstrapToken',
    '(or MW_ENROLL_BOOTSTRAP_TOKEN_FILE pointing at a file that holds it).',
  ].join('\n');
}
