import { FleetServiceClient, type Line, type MaintenanceWindow, type Site } from '@millwright/proto';
import type { ParsedArgs } from './args.js';
import { type CallOptions, CliError, call, channelOf, EXIT } from './client.js';
import { formatDuration, parseDuration } from './duration.js';
import { table } from './format.js';

const USAGE = `usage: mwctl sites ls
       mwctl sites get SITE_ID
       mwctl sites create SITE_ID [--name N] [--tz ZONE] [--line ID[=NAME]]... [--window 'CRON for DURATION']...
       mwctl sites update SITE_ID [--name N] [--tz ZONE] [--line ID[=NAME]]... [--window 'CRON for DURATION'|none]...`;

export async function sitesCommand(args: ParsedArgs, opts: CallOptions & { server: string }): Promise<string> {
  const client = new FleetServiceClient(opts.server, channelOf(opts));
  try {
    const [sub, id] = args.positionals;
    if (sub === 'ls') return await sitesLs(client, args, opts);
    if (!id || !['get', 'create', 'update'].includes(sub ?? '')) throw new CliError(USAGE, EXIT.USAGE);
    const site = await sitesOne(client, sub!, id, args, opts);
    return args.json ? JSON.stringify(site, null, 2) : describeSite(site);
  } finally {
    client.close();
  }
}

async function sitesOne(client: FleetServiceClient, sub: string, id: string, args: ParsedArgs, opts: CallOptions) {
  if (sub === 'get') return call(client, client.getSite, { id }, opts);
  if (sub === 'create') {
    const site = applyFlags(
      { id, displayName: '', timeZone: '', lines: [], maintenanceWindows: [], createdAtMs: 0 },
      args,
    );
    return call(client, client.createSite, { site }, opts);
  }
  // No field masks in the API: update sends the whole site, so flags change only what they name.
  const current = await call(client, client.getSite, { id }, opts);
  return call(client, client.updateSite, { site: applyFlags(current, args) }, opts);
}

function applyFlags(site: Site, args: ParsedArgs): Site {
  const f = args.flags;
  return {
    ...site,
    displayName: f.name?.[0] ?? site.displayName,
    timeZone: f.tz?.[0] ?? site.timeZone,
    lines: f.line ? f.line.map(parseLine) : site.lines,
    maintenanceWindows: f.window ? parseWindows(f.window) : site.maintenanceWindows,
  };
}

function parseLine(text: string): Line {
  const [id, ...name] = text.split('=');
  return { id: id ?? '', displayName: name.join('=') };
}

function parseWindows(values: string[]): MaintenanceWindow[] {
  if (values.length === 1 && values[0] === 'none') return [];
  return values.map((v) => {
    const m = /^(.+?)\s+for\s+(\S+)$/.exec(v.trim());
    if (!m)
      throw new CliError(
        `--window expects 'CRON for DURATION' (e.g. '0 2 * * SUN for 2h'), got ${JSON.stringify(v)}`,
        EXIT.USAGE,
      );
    return { cron: m[1]!, durationS: parseDuration(m[2]!, '--window') };
  });
}

async function sitesLs(client: FleetServiceClient, args: ParsedArgs, opts: CallOptions): Promise<string> {
  const sites: Site[] = [];
  let pageToken = '';
  do {
    const res = await call(client, client.listSites, { page: { pageSize: 500, pageToken } }, opts);
    sites.push(...res.sites);
    pageToken = res.page?.nextPageToken ?? '';
  } while (pageToken);
  if (args.json) return JSON.stringify(sites, null, 2);
  return table(
    ['SITE', 'NAME', 'TIME ZONE', 'LINES', 'WINDOWS'],
    sites.map((s) => [s.id, s.displayName, s.timeZone, s.lines.map((l) => l.id).join(','), windows(s)]),
  );
}

function windows(s: Site): string {
  return s.maintenanceWindows.map((w) => `${w.cron} for ${formatDuration(w.durationS)}`).join('; ') || 'any time';
}

function describeSite(s: Site): string {
  const rows: [string, string][] = [
    ['id', s.id],
    ['name', s.displayName],
    ['time zone', s.timeZone],
    ['lines', s.lines.map((l) => (l.displayName ? `${l.id} (${l.displayName})` : l.id)).join(', ') || '-'],
    ['windows', windows(s)],
    ['created', s.createdAtMs ? new Date(s.createdAtMs).toISOString() : '-'],
  ];
  return rows.map(([k, v]) => `${k.padEnd(16)} ${v}`).join('\n');
}
