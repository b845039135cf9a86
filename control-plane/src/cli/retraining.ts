import {
  DatasetSnapshot,
  DriftReport,
  RetrainingPolicy,
  RetrainingRequest,
  RetrainingServiceClient,
  retrainingStatusFromJSON,
  retrainingStatusToJSON,
} from '@millwright/proto';
import type { ParsedArgs } from './args.js';
import { type CallOptions, CliError, call, channelOf, EXIT } from './client.js';
import { parseDuration } from './duration.js';
import { table } from './format.js';

export const RETRAINING_USAGE = `  retraining drift MODEL [--version V] [--site S] [--since 24h]
  retraining snapshot create MODEL [--version V] [--site S]... [--since 30d | --from ISO --to ISO] [--labelled-only=true]
  retraining snapshot get SNAPSHOT_ID
  retraining request MODEL [--base VERSION] [--reason TEXT] [--since 30d]
  retraining ls [--model M] [--status pending|claimed|completed|failed|cancelled]
  retraining get REQUEST_ID
  retraining complete REQUEST_ID VERSION | retraining fail REQUEST_ID --reason TEXT
  retraining label PREDICTION_ID confirmed_failure|false_alarm|normal [--note TEXT]
  retraining policy get MODEL
  retraining policy set MODEL [--drift-psi X] [--drift-ks X] [--min-samples N] [--window-h N] [--new-labels N]
      [--cron 'M H D M W'] [--snapshot-days N] [--labelled-only=true] [--base-alias A] [--cooldown 1h]
      [--webhook URL] [--auto-canary=true] [--canary-percent P]`;

type Opts = CallOptions & { server: string };
type Client = RetrainingServiceClient;

const json = (v: unknown) => JSON.stringify(v, null, 2);
const flag = (a: ParsedArgs, name: string) => a.flags[name]?.[0];

export async function retrainingCommand(args: ParsedArgs, opts: Opts): Promise<string> {
  const client = new RetrainingServiceClient(opts.server, channelOf(opts));
  try {
    const [sub, ...pos] = args.positionals;
    switch (sub) {
      case 'drift':
        return await drift(client, args, need(pos, 1), opts);
      case 'snapshot':
        return pos[0] === 'get'
          ? await snapshotGet(client, args, need(pos, 2), opts)
          : await snapshotCreate(client, args, need(pos, 2), opts);
      case 'request':
        return await request(client, args, need(pos, 1), opts);
      case 'ls':
        return await list(client, args, opts);
      case 'get':
        return await get(client, args, need(pos, 1), opts);
      case 'complete':
        return describe(args, await call(client, client.complete, { id: need(pos, 2)[0]!, version: pos[1]! }, opts));
      case 'fail':
        return describe(
          args,
          await call(client, client.fail, { id: need(pos, 1)[0]!, reason: flag(args, 'reason') ?? '' }, opts),
        );
      case 'label':
        return await label(client, args, need(pos, 2), opts);
      case 'policy':
        return pos[0] === 'set'
          ? await policySet(client, args, need(pos, 2), opts)
          : await policyGet(client, need(pos, 2), opts);
      default:
        throw new CliError(`usage:\n${RETRAINING_USAGE}`, EXIT.USAGE);
    }
  } finally {
    client.close();
  }
}

function need(pos: string[], n: number): string[] {
  if (pos.length < n) throw new CliError(`usage:\n${RETRAINING_USAGE}`, EXIT.USAGE);
  return pos;
}

/** `--from`/`--to` (ISO dates) pin the window, so the same command yields the same snapshot; else `--since`. */
function since(args: ParsedArgs, fallback: string): { fromMs: number; toMs: number } {
  const from = flag(args, 'from');
  const to = flag(args, 'to');
  if (from || to) {
    const fromMs = from ? Date.parse(from) : 0;
    const toMs = to ? Date.parse(to) : Date.now();
    if (!Number.isFinite(fromMs) || !Number.isFinite(toMs))
      throw new CliError('--from/--to expect ISO dates', EXIT.USAGE);
    return { fromMs, toMs };
  }
  const toMs = Date.now();
  return { fromMs: toMs - parseDuration(flag(args, 'since') ?? fallback, '--since') * 1000, toMs };
}

async function drift(client: Client, args: ParsedArgs, [model]: string[], opts: Opts): Promise<string> {
  const res = await call(
    client,
    client.getDrift,
    { model: model!, version: flag(args, 'version') ?? '', siteId: flag(args, 'site') ?? '', ...since(args, '24h') },
    opts,
  );
  if (args.json) return json(res.reports.map((r) => DriftReport.toJSON(r)));
  const rows = res.reports.flatMap((r) =>
    r.features.map((f) => [r.version, r.siteId, f.feature, f.psi.toFixed(3), f.ks.toFixed(3), f.samples]),
  );
  const perf = res.reports.map((r) => [
    r.version,
    r.siteId,
    r.predictions,
    r.alertRate.toFixed(4),
    r.labelledAlerts > 0 ? r.precision.toFixed(2) : '-',
    r.spikeRate.toExponential(2),
    r.stuckRate.toExponential(2),
    r.calibrationDriftChannels,
  ]);
  return `${table(['VERSION', 'SITE', 'FEATURE', 'PSI', 'KS', 'SAMPLES'], rows)}\n\n${table(
    ['VERSION', 'SITE', 'PREDICTIONS', 'ALERT RATE', 'PRECISION', 'SPIKE RATE', 'STUCK RATE', 'DRIFTING CH'],
    perf,
  )}`;
}

async function snapshotCreate(client: Client, args: ParsedArgs, [, model]: string[], opts: Opts): Promise<string> {
  const filter = {
    model: model!,
    version: flag(args, 'version') ?? '',
    siteIds: args.flags.site ?? [],
    ...since(args, '30d'),
    labelledOnly: flag(args, 'labelled-only') === 'true',
  };
  const s = await call(client, client.createSnapshot, { filter }, opts);
  return args.json ? json(DatasetSnapshot.toJSON(s)) : describeSnapshot(s);
}

async function snapshotGet(client: Client, args: ParsedArgs, [, id]: string[], opts: Opts): Promise<string> {
  const s = await call(client, client.getSnapshot, { id: id! }, opts);
  return args.json ? json(DatasetSnapshot.toJSON(s)) : describeSnapshot(s);
}

function describeSnapshot(s: DatasetSnapshot): string {
  const labels = Object.entries(s.labelSummary)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `snapshot ${s.id}\n  key ${s.manifestKey}\n  rows ${s.totalRows} in ${s.objects.length} objects\n  labels ${labels}`;
}

async function request(client: Client, args: ParsedArgs, [model]: string[], opts: Opts): Promise<string> {
  const base = flag(args, 'base') ?? '';
  const filter = args.flags.since
    ? { model: model!, version: base, siteIds: [], ...since(args, '30d'), labelledOnly: false }
    : undefined;
  const r = await call(
    client,
    client.requestRetraining,
    { model: model!, baseVersion: base, filter, reason: flag(args, 'reason') ?? '' },
    opts,
  );
  return describe(args, r);
}

async function list(client: Client, args: ParsedArgs, opts: Opts): Promise<string> {
  const status = flag(args, 'status');
  const res = await call(
    client,
    client.listRequests,
    {
      page: { pageSize: 500, pageToken: '' },
      model: flag(args, 'model') ?? '',
      status: status ? retrainingStatusFromJSON(`RETRAINING_STATUS_${status.toUpperCase()}`) : 0,
    },
    opts,
  );
  if (args.json) return json(res.requests.map((r) => RetrainingRequest.toJSON(r)));
  return table(
    ['ID', 'MODEL', 'BASE', 'TRIGGER', 'STATUS', 'PROGRESS', 'RESULT', 'REASON'],
    res.requests.map((r) => [
      r.id,
      r.model,
      r.baseVersion,
      r.trigger,
      statusName(r),
      `${Math.round(r.progress * 100)}%`,
      r.resultVersion || '-',
      r.reason,
    ]),
  );
}

async function get(client: Client, args: ParsedArgs, [id]: string[], opts: Opts): Promise<string> {
  const res = await call(
    client,
    client.listRequests,
    { page: { pageSize: 500, pageToken: '' }, model: '', status: 0 },
    opts,
  );
  const r = res.requests.find((x) => x.id === id);
  if (!r) throw new CliError(`retraining request ${id} not found`, EXIT.NOT_FOUND);
  return describe(args, r);
}

function statusName(r: RetrainingRequest): string {
  return retrainingStatusToJSON(r.status).replace('RETRAINING_STATUS_', '').toLowerCase();
}

function describe(args: ParsedArgs, r: RetrainingRequest): string {
  if (args.json) return json(RetrainingRequest.toJSON(r));
  return [
    `request ${r.id} (${statusName(r)})`,
    `  model ${r.model} base ${r.baseVersion} trigger ${r.trigger}: ${r.reason}`,
    `  snapshot ${r.snapshotId}`,
    `  progress ${Math.round(r.progress * 100)}% ${r.progressNote}`,
    r.resultVersion ? `  result ${r.resultVersion}` : '',
  ]
    .filter(Boolean)
    .join('\n');
}

async function label(client: Client, args: ParsedArgs, [predictionId, kind]: string[], opts: Opts): Promise<string> {
  const res = await call(
    client,
    client.addLabel,
    { predictionId: predictionId!, kind: kind!, note: flag(args, 'note') ?? '', agentId: flag(args, 'agent') ?? '' },
    opts,
  );
  return args.json ? json({ id: res.id }) : `label ${res.id} stored`;
}

async function policyGet(client: Client, [, model]: string[], opts: Opts): Promise<string> {
  const p = await call(client, client.getPolicy, { model: model! }, opts);
  return json(RetrainingPolicy.toJSON(p));
}

const NUMERIC: [string, keyof RetrainingPolicy][] = [
  ['drift-psi', 'driftPsi'],
  ['drift-ks', 'driftKs'],
  ['min-samples', 'driftMinSamples'],
  ['window-h', 'driftWindowH'],
  ['new-labels', 'newLabels'],
  ['snapshot-days', 'snapshotDays'],
  ['canary-percent', 'canaryPercent'],
];

async function policySet(client: Client, args: ParsedArgs, [, model]: string[], opts: Opts): Promise<string> {
  const p: RetrainingPolicy = { ...(await call(client, client.getPolicy, { model: model! }, opts)) };
  for (const [name, key] of NUMERIC) {
    const v = flag(args, name);
    if (v === undefined) continue;
    if (!Number.isFinite(Number(v))) throw new CliError(`--${name} expects a number`, EXIT.USAGE);
    (p as unknown as Record<string, number>)[key] = Number(v);
  }
  if (flag(args, 'cron') !== undefined) p.cron = flag(args, 'cron')!;
  if (flag(args, 'base-alias') !== undefined) p.baseAlias = flag(args, 'base-alias')!;
  if (flag(args, 'webhook') !== undefined) p.webhookUrl = flag(args, 'webhook')!;
  if (flag(args, 'cooldown') !== undefined) p.cooldownS = parseDuration(flag(args, 'cooldown')!, '--cooldown');
  if (flag(args, 'labelled-only') !== undefined) p.labelledOnly = flag(args, 'labelled-only') === 'true';
  if (flag(args, 'auto-canary') !== undefined) p.autoCanary = flag(args, 'auto-canary') === 'true';
  const saved = await call(client, client.setPolicy, { policy: p }, opts);
  return json(RetrainingPolicy.toJSON(saved));
}
