import type { ServerWritableStream } from '@grpc/grpc-js';
import {
  FailureAction,
  GateMetric,
  type Gate as GatePb,
  type GateResult as GateResultPb,
  type GetRolloutRequest,
  type GetRolloutResponse,
  type ListRolloutsRequest,
  type ListRolloutsResponse,
  type PlanRolloutRequest,
  type PlanRolloutResponse,
  type RolloutActionRequest,
  type RolloutDecision as RolloutDecisionPb,
  type Rollout as RolloutPb,
  RolloutServiceService,
  type RolloutSpec as RolloutSpecPb,
  RolloutStatus,
  type StartRolloutRequest,
} from '@millwright/proto';
import type { Logger } from 'pino';
import { InvalidArgumentError } from '../../domain/errors.js';
import type {
  Decision,
  FailureAction as FailureActionDomain,
  Gate,
  GateMetric as GateMetricDomain,
  GateResult,
  RolloutSpec,
  RolloutStatus as StatusDomain,
} from '../../rollouts/domain.js';
import type { RolloutService, RolloutView } from '../../rollouts/service.js';
import { callerOf } from './actor.js';
import { toServiceError } from './errors.js';
import { unary } from './handlers.js';
import type { GrpcServiceBinding } from './server.js';

const METRICS: [GateMetric, GateMetricDomain][] = [
  [GateMetric.GATE_METRIC_SELF_TEST_PASS_RATE, 'self_test_pass_rate'],
  [GateMetric.GATE_METRIC_ERROR_RATE, 'error_rate'],
  [GateMetric.GATE_METRIC_LATENCY_P99_US, 'latency_p99_us'],
  [GateMetric.GATE_METRIC_ANOMALY_RATE_DELTA, 'anomaly_rate_delta'],
  [GateMetric.GATE_METRIC_SHADOW_DISAGREEMENT, 'shadow_disagreement'],
  [GateMetric.GATE_METRIC_ACTIVE_FRACTION, 'active_fraction'],
];
const STATUSES: [RolloutStatus, StatusDomain][] = [
  [RolloutStatus.ROLLOUT_STATUS_RUNNING, 'running'],
  [RolloutStatus.ROLLOUT_STATUS_PAUSED, 'paused'],
  [RolloutStatus.ROLLOUT_STATUS_SUCCEEDED, 'succeeded'],
  [RolloutStatus.ROLLOUT_STATUS_ROLLED_BACK, 'rolled_back'],
  [RolloutStatus.ROLLOUT_STATUS_ABORTED, 'aborted'],
  [RolloutStatus.ROLLOUT_STATUS_FAILED, 'failed'],
];
const metricFromPb = (m: GateMetric) => METRICS.find(([p]) => p === m)?.[1];
const metricToPb = (m: GateMetricDomain | undefined) =>
  METRICS.find(([, d]) => d === m)?.[0] ?? GateMetric.GATE_METRIC_UNSPECIFIED;
const statusToPb = (s: StatusDomain) =>
  STATUSES.find(([, d]) => d === s)?.[0] ?? RolloutStatus.ROLLOUT_STATUS_UNSPECIFIED;

function failureFromPb(f: FailureAction): FailureActionDomain {
  return f === FailureAction.FAILURE_ACTION_PAUSE ? 'pause' : 'rollback';
}

/** Proto spec -> domain; an unknown gate metric stays undefined so validation names the field. */
export function specFromPb(s: RolloutSpecPb | undefined): RolloutSpec {
  if (!s) throw new InvalidArgumentError('spec', 'required');
  return {
    model: s.model,
    version: s.version,
    target: {
      siteIds: s.target?.siteIds ?? [],
      labels: { ...(s.target?.labels ?? {}) },
      excludeAgentIds: s.target?.excludeAgentIds ?? [],
    },
    stages: s.stages.map((st) => ({
      name: st.name,
      percent: st.percent,
      bakeS: st.bakeS,
      gates: st.gates.map((g) => ({
        metric: metricFromPb(g.metric),
        threshold: g.threshold,
        minSamples: g.minSamples,
      })),
      shadow: st.shadow,
      timeoutS: st.timeoutS,
    })),
    failureAction: failureFromPb(s.failureAction),
    maxParallelPerSite: s.maxParallelPerSite,
    switchCondition: s.switchCondition,
    force: s.force,
    reason: s.reason,
    config: s.config && Object.keys(s.config).length > 0 ? s.config : undefined,
    promoteAlias: s.promoteAlias,
  };
}

function gateToPb(g: Gate): GatePb {
  return { metric: metricToPb(g.metric), threshold: g.threshold, minSamples: g.minSamples };
}

function specToPb(s: RolloutSpec): RolloutSpecPb {
  return {
    model: s.model,
    version: s.version,
    target: { siteIds: s.target.siteIds, labels: s.target.labels, excludeAgentIds: s.target.excludeAgentIds },
    stages: s.stages.map((st) => ({ ...st, gates: st.gates.map(gateToPb) })),
    failureAction:
      s.failureAction === 'pause' ? FailureAction.FAILURE_ACTION_PAUSE : FailureAction.FAILURE_ACTION_ROLLBACK,
    maxParallelPerSite: s.maxParallelPerSite,
    switchCondition: s.switchCondition,
    force: s.force,
    reason: s.reason,
    config: s.config,
    promoteAlias: s.promoteAlias,
  };
}

function gateResultToPb(g: GateResult): GateResultPb {
  const num = (x: number) => (Number.isFinite(x) ? x : 0);
  return { ...g, metric: metricToPb(g.metric), value: num(g.value), baselineValue: num(g.baselineValue) };
}

export function rolloutToPb(
  v: RolloutView | { rollout: RolloutView['rollout']; stages?: RolloutView['stages'] },
): RolloutPb {
  const r = v.rollout;
  return {
    id: r.id,
    spec: specToPb(r.spec),
    status: statusToPb(r.status),
    currentStage: r.currentStage,
    stages: (v.stages ?? []).map((s) => ({ ...s, gates: s.gates.map(gateResultToPb) })),
    createdBy: r.createdBy,
    createdAtMs: r.createdAtMs,
    updatedAtMs: r.updatedAtMs,
    statusReason: r.statusReason,
    previousVersion: r.previousVersion,
    targetSize: r.targetSize,
  };
}

function decisionToPb(d: Decision): RolloutDecisionPb {
  return { ...d, gates: d.gates.map(gateResultToPb) };
}

const WATCH_POLL_MS = 500;

/** RolloutService over the rollout use cases: every RPC of the contract. */
export function rolloutServiceBinding(deps: { service: RolloutService; log: Logger }): GrpcServiceBinding {
  const { service, log } = deps;
  const getResponse = async (id: string): Promise<GetRolloutResponse> => {
    const view = await service.view(id);
    return { rollout: rolloutToPb(view), decisions: (await service.decisions(id)).map(decisionToPb) };
  };
  const action = (
    name: string,
    fn: (id: string, reason: string, caller: ReturnType<typeof callerOf>) => Promise<unknown>,
  ) =>
    unary<RolloutActionRequest, RolloutPb>(log, name, async (req, call) => {
      await fn(req.id, req.reason, callerOf(call));
      return rolloutToPb(await service.view(req.id));
    });
  return {
    name: 'millwright.v1.RolloutService',
    definition: RolloutServiceService,
    implementation: {
      plan: unary<PlanRolloutRequest, PlanRolloutResponse>(log, 'Plan', async (req) => {
        const p = await service.plan(specFromPb(req.spec));
        return {
          stages: p.stages.map((s) => ({ ...s, gates: s.gates.map(gateToPb) })),
          targetSize: p.targetSize,
          warnings: p.warnings,
        };
      }),
      start: unary<StartRolloutRequest, RolloutPb>(log, 'Start', async (req, call) => {
        const r = await service.start(specFromPb(req.spec), callerOf(call));
        return rolloutToPb(await service.view(r.id));
      }),
      list: unary<ListRolloutsRequest, ListRolloutsResponse>(log, 'List', async (req) => {
        const limit = req.page?.pageSize || 100;
        const after = req.page?.pageToken ? Buffer.from(req.page.pageToken, 'base64url').toString() : undefined;
        const rollouts = await service.list({ model: req.model, activeOnly: req.activeOnly, limit, afterId: after });
        const last = rollouts.at(-1);
        const nextPageToken = rollouts.length === limit && last ? Buffer.from(last.id).toString('base64url') : '';
        return {
          rollouts: rollouts.map((r) => rolloutToPb({ rollout: r })),
          page: { nextPageToken, total: rollouts.length },
        };
      }),
      get: unary<GetRolloutRequest, GetRolloutResponse>(log, 'Get', (req) => getResponse(req.id)),
      watch: (call: ServerWritableStream<GetRolloutRequest, GetRolloutResponse>) => watch(call, getResponse, log),
      pause: action('Pause', (id, reason, c) => service.pause(id, reason, c)),
      resume: action('Resume', (id, reason, c) => service.resume(id, reason, c)),
      promote: action('Promote', (id, reason, c) => service.promote(id, reason, c)),
      abort: action('Abort', (id, reason, c) => service.abort(id, reason, c)),
      rollback: action('Rollback', (id, reason, c) => service.rollback(id, reason, c)),
    },
  };
}

/** Streams the rollout whenever it changes, until it ends (or the client goes away). */
async function watch(
  call: ServerWritableStream<GetRolloutRequest, GetRolloutResponse>,
  get: (id: string) => Promise<GetRolloutResponse>,
  log: Logger,
): Promise<void> {
  let last = '';
  let cancelled = false;
  call.on('cancelled', () => {
    cancelled = true;
  });
  try {
    while (!cancelled) {
      const res = await get(call.request.id);
      const key = JSON.stringify(res);
      if (key !== last) {
        call.write(res);
        last = key;
      }
      const s = res.rollout?.status;
      if (s !== RolloutStatus.ROLLOUT_STATUS_RUNNING && s !== RolloutStatus.ROLLOUT_STATUS_PAUSED) break;
      await new Promise((r) => setTimeout(r, WATCH_POLL_MS));
    }
    call.end();
  } catch (err) {
    log.info({ err, id: call.request.id }, 'rpc.watch.failed');
    call.destroy(Object.assign(new Error('watch failed'), toServiceError(err)));
  }
}
