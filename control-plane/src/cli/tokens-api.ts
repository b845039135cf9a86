import { AdminServiceClient, type ApiToken, Role } from '@millwright/proto';
import { PostgresApiTokenStore } from '../adapters/postgres/api-token-store.js';
import { openDb } from '../adapters/postgres/db.js';
import { ApiTokenService } from '../security/api-tokens.js';
import type { ParsedArgs } from './args.js';
import { type CallOptions, CliError, call, channelOf, EXIT } from './client.js';
import { parseDuration } from './duration.js';
import { table } from './format.js';

export const TOKENS_API_USAGE = `  tokens-api create NAME --role viewer|trainer|platform|admin [--ttl 90d]   API token, printed once
  tokens-api ls | tokens-api revoke TOKEN_ID | tokens-api whoami
  tokens-api bootstrap --database-url URL [--name N]   first admin token, straight into the database`;

const ROLE_PB: Record<string, Role> = {
  viewer: Role.ROLE_VIEWER,
  trainer: Role.ROLE_TRAINER,
  platform: Role.ROLE_PLATFORM,
  admin: Role.ROLE_ADMIN,
};

export function roleName(r: Role): string {
  return Object.keys(ROLE_PB).find((k) => ROLE_PB[k] === r) ?? 'unspecified';
}

/** API tokens of people and machines calling the gRPC API (not the agents' bootstrap `tokens`). */
export async function tokensApiCommand(
  args: ParsedArgs,
  opts: CallOptions & { server: string },
  env: NodeJS.ProcessEnv,
): Promise<string> {
  const [sub, arg] = args.positionals;
  if (sub === 'bootstrap') return bootstrap(args, env);
  const client = new AdminServiceClient(opts.server, channelOf(opts));
  try {
    if (sub === 'create' && arg) return await create(client, arg, args, opts);
    if (sub === 'ls') return await list(client, args, opts);
    if (sub === 'revoke' && arg) {
      const t = await call(client, client.revokeApiToken, { id: arg }, opts);
      return args.json ? JSON.stringify(t, null, 2) : `revoked ${t.id} (${t.name})`;
    }
    if (sub === 'whoami') {
      const me = await call(client, client.whoAmI, {}, opts);
      return args.json ? JSON.stringify(me) : `${me.actor} (${roleName(me.role)})`;
    }
    throw new CliError(`usage:\n${TOKENS_API_USAGE}`, EXIT.USAGE);
  } finally {
    client.close();
  }
}

async function create(client: AdminServiceClient, name: string, args: ParsedArgs, opts: CallOptions): Promise<string> {
  const role = ROLE_PB[args.flags.role?.[0] ?? ''];
  if (role === undefined) throw new CliError('--role must be viewer, trainer, platform or admin', EXIT.USAGE);
  const ttl = args.flags.ttl?.[0];
  const res = await call(
    client,
    client.createApiToken,
    { name, role, ttlS: ttl ? parseDuration(ttl, '--ttl') : 0 },
    opts,
  );
  if (args.json) return JSON.stringify(res, null, 2);
  return [
    `token id   ${res.token?.id}`,
    `role       ${roleName(res.token?.role ?? Role.ROLE_UNSPECIFIED)}`,
    `token      ${res.secret}`,
    '',
    'The token is shown only this once; pass it as --token or MW_TOKEN.',
  ].join('\n');
}

async function list(client: AdminServiceClient, args: ParsedArgs, opts: CallOptions): Promise<string> {
  const all: ApiToken[] = [];
  let pageToken = '';
  do {
    const res = await call(client, client.listApiTokens, { page: { pageSize: 500, pageToken } }, opts);
    all.push(...res.tokens);
    pageToken = res.page?.nextPageToken ?? '';
  } while (pageToken);
  if (args.json) return JSON.stringify(all, null, 2);
  const rows = all.map((t) => [
    t.id,
    t.name,
    roleName(t.role),
    t.createdBy,
    new Date(t.createdAtMs).toISOString(),
    t.expiresAtMs ? new Date(t.expiresAtMs).toISOString() : 'never',
    t.revoked ? 'revoked' : 'active',
  ]);
  return table(['id', 'name', 'role', 'created by', 'created', 'expires', 'state'], rows);
}

/** Creates an admin token directly in the database (no API token exists yet) and prints it once. */
async function bootstrap(args: ParsedArgs, env: NodeJS.ProcessEnv): Promise<string> {
  const url = args.flags['database-url']?.[0] ?? env.MW_DATABASE_URL;
  if (!url) throw new CliError('tokens-api bootstrap needs --database-url or MW_DATABASE_URL', EXIT.USAGE);
  const dbh = openDb(url, 1);
  try {
    const tokens = new ApiTokenService({ store: new PostgresApiTokenStore({ db: dbh.db }), now: Date.now });
    const name = args.flags.name?.[0] ?? 'bootstrap-admin';
    const res = await tokens.create({ name, role: 'admin', ttlS: 0 }, { actor: 'mwctl-bootstrap', source: 'database' });
    if (args.json) return JSON.stringify({ id: res.token.id, name, role: 'admin', secret: res.secret });
    return [`token id   ${res.token.id}`, `token      ${res.secret}`, '', 'Admin token, shown only this once.'].join(
      '\n',
    );
  } finally {
    await dbh.close();
  }
}
