import { AdminServiceClient, type AuditEvent } from '@millwright/proto';
import type { ParsedArgs } from './args.js';
import { type CallOptions, CliError, call, channelOf, EXIT } from './client.js';
import { parseDuration } from './duration.js';
import { table } from './format.js';
import { roleName } from './tokens-api.js';

export const AUDIT_USAGE =
  '  audit ls [--actor NAME] [--action PREFIX] [--since 24h] [--limit N]   the audit log, newest first';

/** Reads the audit log (admin role). */
export async function auditCommand(args: ParsedArgs, opts: CallOptions & { server: string }): Promise<string> {
  if (args.positionals[0] !== 'ls') throw new CliError(`usage:\n${AUDIT_USAGE}`, EXIT.USAGE);
  const limit = Number(args.flags.limit?.[0] ?? 100);
  if (!Number.isInteger(limit) || limit < 1) throw new CliError('--limit expects a positive number', EXIT.USAGE);
  const since = args.flags.since?.[0];
  const client = new AdminServiceClient(opts.server, channelOf(opts));
  try {
    const events: AuditEvent[] = [];
    let pageToken = '';
    do {
      const req = {
        page: { pageSize: Math.min(500, limit - events.length), pageToken },
        actor: args.flags.actor?.[0] ?? '',
        actionPrefix: args.flags.action?.[0] ?? '',
        sinceMs: since ? Date.now() - parseDuration(since, '--since') * 1000 : 0,
      };
      const res = await call(client, client.listAuditEvents, req, opts);
      events.push(...res.events);
      pageToken = res.page?.nextPageToken ?? '';
    } while (pageToken && events.length < limit);
    if (args.json) return JSON.stringify(events, null, 2);
    const rows = events.map((e) => [
      new Date(e.atMs).toISOString(),
      `${e.actor}${e.actorRole ? ` (${roleName(e.actorRole)})` : ''}`,
      e.action,
      e.target,
      e.source,
      e.reason,
    ]);
    return table(['at', 'actor', 'action', 'target', 'from', 'reason'], rows);
  } finally {
    client.close();
  }
}
