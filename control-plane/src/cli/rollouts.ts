import { readFileSync } from 'node:fs';
import { type ServiceError, status } from '@grpc/grpc-js';
import {
  FailureAction,
  FleetServiceClient,
  type Gate,
  GateMetric,
  type GateResult,
  GetRolloutResponse,
  gateMetricFromJSON,
  gateMetricToJSON,
  PlanRolloutResponse,
  Rollout,
  RolloutServiceClient,
  RolloutSpec,
  rolloutStatusToJSON,
} from '@millwright/proto';
import type { ParsedArgs } from './args.js';
import { type CallOptions, CliError, call, channelOf, cliErrorOf, EXIT, metadataOf } from './client.js';
import { parseDuration } from './duration.js';
import { table } from './format.js';

export const ROLLOUTS_USAGE = `  rollouts plan|start --model M --version V [--site S]... [--label k=v]... [--exclude AGENT]...
                 [--stages '5:60,25:120,100:0'] [--gate '[STAGE@]metric<=threshold:min_samples']...
                 [--failure-action rollback|pause] [--max-parallel N] [--condition EXPR] [--force]
                 [--shadow] [--stage-timeout 1h] [--alias production] [--config JSON|@file.json] [--reason TEXT]
                 | --spec spec.json     (--config without --version: a config-only rollout)
  rollouts ls [--model M] [active]
  rollouts status|watch ROLLOUT_ID
  rollouts pause|resume|promote|abort|rollback ROLLOUT_ID [--reason TEXT]
  fleet stop-rollouts --reason TEXT     pause every running rollout at once (emergency stop)`;

type Opts = CallOptions & { server: string };

const metricName = (m: GateMetric) => gateMetricToJSON(m).replace('GATE_METRIC_', '').toLowerCase();
const statusName = (r: Rollout | undefined) =>
  r ? rolloutStatusToJSON(r.status).replace('ROLLOUT_STATUS_', '').toLowerCase() : '';

/** `5:60,25:120,100:0` -> stages with cumulative percent and bake seconds. */
export function parseStages(text: string): { percent: number; bakeS: number }[] {
  return text.split(',').map((part) => {
    const [p, b = '0'] = part.trim().split(':');
    const percent = Number(p);
    const bakeS = /^\d+$/.test(b) ? Number(b) : parseDuration(b, '--stages');
    if (!Number.isFinite(percent) || !Number.isFinite(bakeS))
      throw new CliError(`--stages: bad stage ${JSON.stringify(part)}`, EXIT.USAGE);
    return { percent, bakeS };
  });
}

/** `[stage@]metric<=threshold[:min_samples]`; the direction must be the metric's own. */
export function parseGate(text: string): { stage: number | undefined; gate: Gate } {
  const m = /^(?:(\d+)@)?([a-z0-9_]+)\s*(<=|>=)\s*([-+0-9.eE]+)(?::(\d+))?$/.exec(text.trim());
  if (!m)
    throw new CliError(
      `--gate expects [stage@]metric<=threshold[:min_samples], got ${JSON.stringify(text)}`,
      EXIT.USAGE,
    );
  let metric: GateMetric;
  try {
    metric = gateMetricFromJSON(`GATE_METRIC_${m[2]!.toUpperCase()}`);
  } catch {
    throw new CliError(`--gate: unknown metric ${m[2]}`, EXIT.USAGE);
  }
  const higher =
    metric === GateMetric.GATE_METRIC_ACTIVE_FRACTION || metric === GateMetric.GATE_METRIC_SELF_TEST_PASS_RATE;
  if ((m[3] === '>=') !== higher) throw new CliError(`--gate: ${m[2]} passes with ${higher ? '>=' : '<='}`, EXIT.USAGE);
  const gate = { metric, threshold: Number(m[4]), minSamples: Number(m[5] ?? 1) };
  return { stage: m[1] === undefined ? undefined : Number(m[1]), gate };
}

function labelsOf(values: string[]): Record<string, string> {
  return Object.fromEntries(
    values.map((v) => {
      const i = v.indexOf('=');
      if (i <= 0) throw new CliError(`--label expects key=value, got ${JSON.stringify(v)}`, EXIT.USAGE);
      return [v.slice(0, i), v.slice(i + 1)];
    }),
  );
}

/** The RolloutSpec from --spec (proto3 JSON) or from flags. */
export function specFromArgs(args: ParsedArgs): RolloutSpec {
  const f = args.flags;
  if (f.spec?.[0]) return RolloutSpec.fromJSON(JSON.parse(readFileSync(f.spec[0], 'utf8')));
  const model = f.model?.[0];
  if (!model) throw new CliError('rollouts plan|start needs --model (or --spec)', EXIT.USAGE);
  const gates = (f.gate ?? []).map(parseGate);
  const timeoutS = f['stage-timeout']?.[0] ? parseDuration(f['stage-timeout'][0], '--stage-timeout') : 0;
  const stages = parseStages(f.stages?.[0] ?? '100:0').map((s, i, all) => ({
    name: i === all.length - 1 ? 'full' : i === 0 ? 'canary' : `stage-${i + 1}`,
    percent: s.percent,
    bakeS: s.bakeS,
    gates: gates.filter((g) => g.stage === undefined || g.stage === i).map((g) => g.gate),
    shadow: i === 0 && f.shadow?.[0] === 'true',
    timeoutS,
  }));
  return RolloutSpec.fromPartial({
    model,
    version: f.version?.[0] ?? '',
    target: { siteIds: f.site ?? [], labels: labelsOf(f.label ?? []), excludeAgentIds: f.exclude ?? [] },
    stages,
    failureAction:
      f['failure-action']?.[0] === 'pause' ? FailureAction.FAILURE_ACTION_PAUSE : FailureAction.FAILURE_ACTION_ROLLBACK,
    maxParallelPerSite: Number(f['max-parallel']?.[0] ?? 0),
    switchCondition: f.condition?.[0] ?? '',
    force: f.force?.[0] === 'true',
    reason: f.reason?.[0] ?? '',
    promoteAlias: f.alias?.[0] ?? '',
    ...(f.config?.[0] ? { config: configOf(f.config[0]) } : {}),
  });
}

/** `--config`: an agent-config layer as inline JSON or `@file.json`; must be a JSON object. */
function configOf(text: string): Record<string, unknown> {
  let raw = text;
  if (text.startsWith('@')) {
    try {
      raw = readFileSync(text.slice(1), 'utf8');
    } catch (err) {
      throw new CliError(`--config: cannot read ${text.slice(1)}: ${(err as Error).message}`, EXIT.USAGE);
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new CliError(`--config: not JSON: ${(err as Error).message}`, EXIT.USAGE);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CliError('--config: expects a JSON object such as {"alerts":{"holdOffS":30}}', EXIT.USAGE);
  }
  return value as Record<string, unknown>;
}

function gateLine(g: GateResult): string {
  const v = (x: number) => (Number.isInteger(x) ? String(x) : x.toPrecision(4));
  return `${metricName(g.metric)}: ${g.outcome} (value ${v(g.value)}, baseline ${v(g.baselineValue)}, threshold ${g.threshold}, samples ${g.samples}) ${g.detail}`;
}

/** Human view of a rollout with its stages, live gates and decision log. */
export function formatStatus(res: GetRolloutResponse): string {
  const r = res.rollout!;
  const head = [
    `rollout ${r.id}: ${r.spec?.model}@${r.spec?.version} ${statusName(r)}${r.statusReason ? ` (${r.statusReason})` : ''}`,
    `stage ${r.currentStage + 1}/${r.stages.length}, target ${r.targetSize} agents, previous version ${r.previousVersion || '-'}, by ${r.createdBy}`,
  ];
  const stages = table(
    ['#', 'STAGE', 'AGENTS', 'ACTIVE', 'UPDATING', 'FAILED', 'WAITING', 'STARTED'],
    r.stages.map((s, i) => [
      i + 1,
      s.name,
      s.cohortSize,
      s.active,
      s.updating,
      s.failed,
      s.waitingWindow,
      s.startedAtMs ? new Date(s.startedAtMs).toISOString() : '-',
    ]),
  );
  const gates = (r.stages[r.currentStage]?.gates ?? []).map((g) => `  gate ${gateLine(g)}`);
  const decisions = table(
    ['AT', 'KIND', 'STAGE', 'ACTOR', 'REASON'],
    res.decisions.map((d) => [new Date(d.atMs).toISOString(), d.kind, d.stage + 1, d.actor, d.reason.slice(0, 120)]),
  );
  return [...head, stages, ...gates, decisions].join('\n');
}

function listTable(rollouts: Rollout[]): string {
  return table(
    ['ID', 'MODEL', 'VERSION', 'STATUS', 'STAGE', 'TARGET', 'CREATED'],
    rollouts.map((r) => [
      r.id,
      r.spec?.model ?? '',
      r.spec?.version ?? '',
      statusName(r),
      `${r.currentStage + 1}/${r.spec?.stages.length ?? 0}`,
      r.targetSize,
      new Date(r.createdAtMs).toISOString(),
    ]),
  );
}

export async function rolloutsCommand(args: ParsedArgs, opts: Opts): Promise<string> {
  const client = new RolloutServiceClient(opts.server, channelOf(opts));
  try {
    const [sub, id] = args.positionals;
    const reason = args.flags.reason?.[0] ?? '';
    const out = (v: unknown, human: () => string) => (args.json ? JSON.stringify(v, null, 2) : human());
    switch (sub) {
      case 'plan': {
        const p = await call(client, client.plan, { spec: specFromArgs(args) }, opts);
        return out(PlanRolloutResponse.toJSON(p), () =>
          [
            `target: ${p.targetSize} agents`,
            table(
              ['STAGE', 'AGENTS', 'DOWNLOAD', 'BAKE', 'GATES', 'WHO'],
              p.stages.map((s) => [
                s.name,
                s.agentIds.length,
                `${s.downloadBytes} B`,
                `${s.bakeS}s`,
                s.gates.map((g) => `${metricName(g.metric)}:${g.threshold}`).join(' ') || '-',
                s.agentIds.slice(0, 8).join(',') + (s.agentIds.length > 8 ? ',…' : ''),
              ]),
            ),
            ...p.warnings.map((w) => `warning: ${w}`),
          ].join('\n'),
        );
      }
      case 'start': {
        const r = await call(client, client.start, { spec: specFromArgs(args) }, opts);
        return out(
          Rollout.toJSON(r),
          () => `started rollout ${r.id}: ${r.spec?.model}@${r.spec?.version} to ${r.targetSize} agents`,
        );
      }
      case 'ls': {
        const req = {
          model: args.flags.model?.[0] ?? '',
          activeOnly: id === 'active',
          page: { pageSize: 100, pageToken: '' },
        };
        const res = await call(client, client.list, req, opts);
        return out(
          res.rollouts.map((r) => Rollout.toJSON(r)),
          () => listTable(res.rollouts),
        );
      }
      case 'status': {
        const res = await call(client, client.get, { id: need(id, sub) }, opts);
        return out(GetRolloutResponse.toJSON(res), () => formatStatus(res));
      }
      case 'watch':
        return await watch(client, need(id, sub), args.json, opts);
      case 'pause':
      case 'resume':
      case 'promote':
      case 'abort':
      case 'rollback': {
        const method = {
          pause: client.pause,
          resume: client.resume,
          promote: client.promote,
          abort: client.abort,
          rollback: client.rollback,
        }[sub];
        const r = await call(client, method, { id: need(id, sub), reason }, opts);
        return out(
          Rollout.toJSON(r),
          () => `rollout ${r.id}: ${statusName(r)}, stage ${r.currentStage + 1}/${r.stages.length}`,
        );
      }
      default:
        throw new CliError(`usage:\n${ROLLOUTS_USAGE}`, EXIT.USAGE);
    }
  } finally {
    client.close();
  }
}

function need(id: string | undefined, sub: string): string {
  if (!id) throw new CliError(`rollouts ${sub} needs ROLLOUT_ID`, EXIT.USAGE);
  return id;
}

/** Prints every change until the rollout ends; one JSON object per line with --json. */
async function watch(client: RolloutServiceClient, id: string, json: boolean, opts: Opts): Promise<string> {
  const stream = client.watch({ id }, metadataOf(opts));
  let last: GetRolloutResponse | undefined;
  await new Promise<void>((resolve, reject) => {
    stream.on('data', (res: GetRolloutResponse) => {
      last = res;
      process.stdout.write(json ? `${JSON.stringify(GetRolloutResponse.toJSON(res))}\n` : `\n${formatStatus(res)}\n`);
    });
    stream.on('end', resolve);
    stream.on('error', (err: ServiceError) => (err.code === status.CANCELLED ? resolve() : reject(cliErrorOf(err))));
  });
  return last ? `rollout ${id} ended: ${statusName(last.rollout)}` : '';
}

export async function stopRollouts(args: ParsedArgs, opts: Opts): Promise<string> {
  const reason = args.flags.reason?.[0];
  if (!reason) throw new CliError('fleet stop-rollouts needs --reason', EXIT.USAGE);
  const client = new FleetServiceClient(opts.server, channelOf(opts));
  try {
    const res = await call(client, client.stopAllRollouts, { reason }, opts);
    return args.json ? JSON.stringify(res) : `paused ${res.paused} running rollouts`;
  } finally {
    client.close();
  }
}
