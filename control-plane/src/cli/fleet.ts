import { type Agent, AgentHealth, agentHealthFromJSON, agentHealthToJSON, FleetServiceClient } from '@millwright/proto';
import type { ParsedArgs } from './args.js';
import { type CallOptions, CliError, call, channelOf, EXIT } from './client.js';
import { parseDuration } from './duration.js';
import { ago, labels, table } from './format.js';

function health(h: AgentHealth): string {
  return agentHealthToJSON(h).replace('AGENT_HEALTH_', '').toLowerCase();
}

function parseHealth(value: string): AgentHealth {
  try {
    return agentHealthFromJSON(`AGENT_HEALTH_${value.toUpperCase()}`);
  } catch {
    throw new CliError('--health must be online, stale, offline or decommissioned', EXIT.USAGE);
  }
}

function parseLabels(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const [k, ...rest] = v.split('=');
    if (!k || rest.length === 0) throw new CliError(`--label expects key=value, got ${JSON.stringify(v)}`, EXIT.USAGE);
    out[k] = rest.join('=');
  }
  return out;
}

const USAGE = `usage: mwctl fleet ls [filters]
       mwctl fleet get|history AGENT_ID
       mwctl fleet decommission AGENT_ID --reason TEXT
       mwctl fleet pin|unpin AGENT_ID [--reason TEXT]`;

async function agentCommand(
  client: FleetServiceClient,
  sub: string,
  id: string,
  args: ParsedArgs,
  opts: CallOptions,
): Promise<Agent> {
  const reason = args.flags.reason?.[0] ?? '';
  switch (sub) {
    case 'get':
      return call(client, client.getAgent, { id }, opts);
    case 'decommission':
      if (!reason) throw new CliError('fleet decommission needs --reason', EXIT.USAGE);
      return call(client, client.decommissionAgent, { id, reason }, opts);
    case 'pin':
    case 'unpin':
      return call(client, client.setAgentPinned, { id, pinned: sub === 'pin', reason }, opts);
    default:
      throw new CliError(USAGE, EXIT.USAGE);
  }
}

async function fleetHistory(client: FleetServiceClient, id: string, args: ParsedArgs, opts: CallOptions) {
  const since = args.flags.since?.[0];
  const req = {
    id,
    sinceMs: since ? Date.now() - parseDuration(since, '--since') * 1000 : 0,
    limit: Number(args.flags.limit?.[0] ?? 0),
  };
  const { entries } = await call(client, client.getAgentHistory, req, opts);
  if (args.json)
    return JSON.stringify(
      entries.map((e) => ({ ...e, health: health(e.health) })),
      null,
      2,
    );
  return table(
    ['AT', 'HEALTH', 'EVENT', 'MODEL', 'UNSENT'],
    entries.map((e) => [
      new Date(e.atMs).toISOString(),
      health(e.health),
      e.event,
      e.runningModelVersion || '-',
      e.unsentRecords,
    ]),
  );
}

export async function fleetCommand(args: ParsedArgs, opts: CallOptions & { server: string }): Promise<string> {
  const client = new FleetServiceClient(opts.server, channelOf(opts));
  try {
    const [sub, id] = args.positionals;
    if (sub === 'ls') return await fleetLs(client, args, opts);
    if (!id || !sub) throw new CliError(USAGE, EXIT.USAGE);
    if (sub === 'history') return await fleetHistory(client, id, args, opts);
    const agent = await agentCommand(client, sub, id, args, opts);
    return args.json ? JSON.stringify(toJson(agent), null, 2) : describeAgent(agent);
  } finally {
    client.close();
  }
}

async function fleetLs(client: FleetServiceClient, args: ParsedArgs, opts: CallOptions): Promise<string> {
  const healthArg = args.flags.health?.[0];
  const h = healthArg ? parseHealth(healthArg) : AgentHealth.AGENT_HEALTH_UNSPECIFIED;
  const agents: Agent[] = [];
  let pageToken = '';
  const limit = Number(args.flags.limit?.[0] ?? 0);
  do {
    const res = await call(
      client,
      client.listAgents,
      {
        page: { pageSize: 500, pageToken },
        siteId: args.flags.site?.[0] ?? '',
        lineId: args.flags.line?.[0] ?? '',
        labels: parseLabels(args.flags.label ?? []),
        health: h,
      },
      opts,
    );
    agents.push(...res.agents);
    pageToken = res.page?.nextPageToken ?? '';
  } while (pageToken && (!limit || agents.length < limit));
  const shown = limit ? agents.slice(0, limit) : agents;
  if (args.json) return JSON.stringify(shown.map(toJson), null, 2);
  return table(
    ['AGENT', 'SITE', 'LINE', 'HEALTH', 'MODEL', 'VERSION', 'LAST HEARTBEAT', 'BACKLOG', 'LABELS'],
    shown.map((a) => [
      a.id,
      a.siteId,
      a.lineId,
      health(a.health),
      a.runningModelVersion || '-',
      a.agentVersion,
      ago(a.lastHeartbeatMs),
      a.buffer?.unsentRecords ?? 0,
      labels(a.labels),
    ]),
  );
}

function toJson(a: Agent) {
  return { ...a, health: health(a.health) };
}

function describeAgent(a: Agent): string {
  const rows: [string, string | number][] = [
    ['id', a.id],
    ['site', a.siteId],
    ['line', a.lineId],
    ['health', health(a.health)],
    ['labels', labels(a.labels)],
    ['agent version', a.agentVersion],
    ['running model', a.runningModelVersion || '-'],
    ['desired model', a.desiredModelVersion || '-'],
    [
      'last heartbeat',
      a.lastHeartbeatMs ? `${new Date(a.lastHeartbeatMs).toISOString()} (${ago(a.lastHeartbeatMs)})` : 'never',
    ],
    ['unsent records', a.buffer?.unsentRecords ?? 0],
    ['last sync', ago(a.buffer?.lastSyncMs ?? 0)],
    ['pinned', String(a.pinned)],
  ];
  return rows.map(([k, v]) => `${k.padEnd(16)} ${v}`).join('\n');
}
