import type { Logger } from 'pino';
import { InvalidArgumentError, NotFoundError, PreconditionError } from '../domain/errors.js';
import {
  type DriftReport,
  defaultPolicy,
  isLabelKind,
  type RequestStatus,
  type RetrainingPolicy,
  type RetrainingRequest,
  type Snapshot,
  type SnapshotFilter,
  type TriggerKind,
} from './domain.js';
import { computeDrift, type DriftQuery } from './drift-report.js';
import type {
  CanaryStarter,
  DatasetBlobStore,
  RetrainingEventPublisher,
  RetrainingStore,
  RetrainingWebhook,
  VersionCatalog,
  VersionInfo,
} from './ports.js';
import { parseCronUtc } from './schedule.js';
import { createSnapshot, getSnapshot, type SnapshotDeps } from './snapshots.js';

export interface RetrainingServiceDeps {
  store: RetrainingStore;
  blobs: DatasetBlobStore;
  catalog: VersionCatalog;
  events: RetrainingEventPublisher;
  webhook: RetrainingWebhook;
  canary: CanaryStarter;
  now: () => number;
  newId: () => string;
  log: Logger;
  /** Lease when a trainer asks for none. @default 600 */
  defaultLeaseS?: number;
  onRequest?: (trigger: TriggerKind) => void;
}

const DAY_MS = 86_400_000;

/**
 * The retraining handoff's use cases: snapshots, drift, requests (create, claim, progress, complete
 * with lineage verification and the auto-canary policy, fail), dashboard labels and policies.
 */
export class RetrainingService {
  private readonly snapshotDeps: SnapshotDeps;

  constructor(private readonly deps: RetrainingServiceDeps) {
    this.snapshotDeps = { store: deps.store, blobs: deps.blobs, catalog: deps.catalog, now: deps.now };
  }

  createSnapshot(filter: SnapshotFilter): Promise<Snapshot> {
    return createSnapshot(this.snapshotDeps, filter);
  }

  getSnapshot(id: string): Promise<Snapshot> {
    return getSnapshot(this.snapshotDeps, id);
  }

  /** Drift reports; `toMs` defaults to now and `fromMs` to 24 h before it. */
  getDrift(q: DriftQuery): Promise<DriftReport[]> {
    if (!q.model) throw new InvalidArgumentError('model', 'required');
    const toMs = q.toMs || this.deps.now();
    return computeDrift(this.deps, { ...q, toMs, fromMs: q.fromMs || toMs - DAY_MS });
  }

  /** Creates a request with a fresh snapshot, stores it, publishes it and calls the policy's webhook. */
  async requestRetraining(r: {
    model: string;
    baseVersion: string;
    filter: SnapshotFilter | undefined;
    reason: string;
    trigger: TriggerKind;
  }): Promise<RetrainingRequest> {
    if (!r.model) throw new InvalidArgumentError('model', 'required');
    const policy = (await this.deps.store.getPolicy(r.model)) ?? defaultPolicy(r.model);
    const base = await this.baseVersion(r.model, r.baseVersion, policy);
    const now = this.deps.now();
    const filter: SnapshotFilter = r.filter?.model
      ? r.filter
      : {
          model: r.model,
          version: base.version,
          siteIds: [],
          fromMs: now - policy.snapshotDays * DAY_MS,
          toMs: now,
          labelledOnly: policy.labelledOnly,
        };
    const snapshot = await this.createSnapshot(filter);
    const request: RetrainingRequest = {
      id: this.deps.newId(),
      model: r.model,
      baseVersion: base.version,
      snapshotId: snapshot.id,
      trigger: r.trigger,
      reason: r.reason,
      status: 'pending',
      claimedBy: '',
      claimExpiresAtMs: 0,
      progress: 0,
      progressNote: '',
      resultVersion: '',
      createdAtMs: now,
      updatedAtMs: now,
    };
    await this.deps.store.createRequest(request);
    this.deps.onRequest?.(r.trigger);
    this.deps.log.info(
      {
        requestId: request.id,
        model: r.model,
        base: base.version,
        snapshotId: snapshot.id,
        trigger: r.trigger,
        rows: snapshot.manifest.totalRows,
      },
      'retraining.requested',
    );
    await this.announce({ request, snapshot, base }, policy.webhookUrl);
    return request;
  }

  async listRequests(q: { model: string; status: RequestStatus | undefined; pageSize: number; pageToken: string }) {
    const limit = Math.min(Math.max(q.pageSize || 50, 1), 500);
    const offset = q.pageToken ? Number(q.pageToken) : 0;
    if (!Number.isInteger(offset) || offset < 0) throw new InvalidArgumentError('page.page_token', 'not a token');
    const res = await this.deps.store.listRequests({ model: q.model, status: q.status, limit, offset });
    const next = offset + res.requests.length < res.total ? String(offset + res.requests.length) : '';
    return { requests: res.requests, total: res.total, nextPageToken: next };
  }

  /**
   * Leases a request to a trainer: the given one, or the oldest pending (or lease-expired) one.
   * @throws NotFoundError when nothing is claimable
   */
  async claim(c: { id: string; worker: string; leaseS: number }): Promise<RetrainingRequest> {
    if (!c.worker) throw new InvalidArgumentError('worker', 'required');
    const leaseMs = (c.leaseS || this.deps.defaultLeaseS || 600) * 1000;
    const r = await this.deps.store.claim({ id: c.id, worker: c.worker, nowMs: this.deps.now(), leaseMs });
    if (!r) throw new NotFoundError('claimable retraining request', c.id || '(oldest pending)');
    this.deps.log.info({ requestId: r.id, worker: c.worker }, 'retraining.claimed');
    return r;
  }

  /** Progress of a claimed request; renews its lease for another default lease period. */
  async reportProgress(id: string, progress: number, note: string): Promise<RetrainingRequest> {
    if (!(progress >= 0 && progress <= 1)) throw new InvalidArgumentError('progress', 'between 0 and 1');
    const now = this.deps.now();
    const lease = (this.deps.defaultLeaseS ?? 600) * 1000;
    return this.transition(id, ['claimed'], {
      progress,
      progressNote: note,
      claimExpiresAtMs: now + lease,
      updatedAtMs: now,
    });
  }

  /**
   * Links a registered version to the request after checking its lineage names this request, its
   * snapshot and its base version; then starts the policy's canary. Completing again with the same
   * version returns the request unchanged.
   * @throws PreconditionError on a lineage mismatch or a request that is not claimed
   */
  async complete(id: string, version: string): Promise<RetrainingRequest> {
    const req = await this.mustGet(id);
    if (req.status === 'completed' && req.resultVersion === version) return req;
    if (!version) throw new InvalidArgumentError('version', 'required');
    const v = await this.deps.catalog.getVersion(req.model, version);
    assertLineage(req, v);
    const done = await this.transition(id, ['claimed'], {
      status: 'completed',
      resultVersion: version,
      progress: 1,
      updatedAtMs: this.deps.now(),
    });
    this.deps.log.info({ requestId: id, version }, 'retraining.completed');
    return this.autoCanary(done);
  }

  async fail(id: string, reason: string): Promise<RetrainingRequest> {
    const r = await this.transition(id, ['pending', 'claimed'], {
      status: 'failed',
      progressNote: reason,
      updatedAtMs: this.deps.now(),
    });
    this.deps.log.info({ requestId: id, reason }, 'retraining.failed');
    return r;
  }

  /** A label from the dashboard; the agent is the prediction id's first part unless given. */
  async addLabel(l: { predictionId: string; kind: string; note: string; agentId: string; operator: string }) {
    if (!l.predictionId) throw new InvalidArgumentError('prediction_id', 'required');
    if (!isLabelKind(l.kind)) throw new InvalidArgumentError('kind', 'confirmed_failure, false_alarm or normal');
    const agentId = l.agentId || l.predictionId.split(':')[0]!;
    return this.deps.store.insertLabel({ ...l, kind: l.kind, agentId, source: 'dashboard', atMs: this.deps.now() });
  }

  async getPolicy(model: string): Promise<RetrainingPolicy> {
    if (!model) throw new InvalidArgumentError('model', 'required');
    return (await this.deps.store.getPolicy(model)) ?? defaultPolicy(model);
  }

  async setPolicy(p: RetrainingPolicy, actor: string): Promise<RetrainingPolicy> {
    validatePolicy(p);
    const stored = { ...p, updatedAtMs: this.deps.now(), updatedBy: actor };
    await this.deps.store.setPolicy(stored);
    return stored;
  }

  private async autoCanary(req: RetrainingRequest): Promise<RetrainingRequest> {
    const policy = await this.deps.store.getPolicy(req.model);
    if (!policy?.autoCanary) return req;
    let note: string;
    try {
      const { rolloutId } = await this.deps.canary.start({
        model: req.model,
        version: req.resultVersion,
        baseVersion: req.baseVersion,
        percent: policy.canaryPercent,
        reason: `retraining request ${req.id} (${req.trigger}: ${req.reason})`,
      });
      note = `auto-canary started: rollout ${rolloutId}`;
      this.deps.log.info({ requestId: req.id, rolloutId }, 'retraining.canary.started');
    } catch (err) {
      note = `auto-canary not started: ${err instanceof Error ? err.message : String(err)}`;
      this.deps.log.warn({ err, requestId: req.id }, 'retraining.canary.failed');
    }
    return (await this.deps.store.updateRequest(req.id, ['completed'], { progressNote: note })) ?? req;
  }

  private async announce(e: { request: RetrainingRequest; snapshot: Snapshot; base: VersionInfo }, webhookUrl: string) {
    try {
      await this.deps.events.publish(e);
    } catch (err) {
      this.deps.log.warn({ err, requestId: e.request.id }, 'retraining.event.publish_failed');
    }
    if (webhookUrl)
      this.deps.webhook
        .post(webhookUrl, e)
        .catch((err: unknown) =>
          this.deps.log.warn({ err, requestId: e.request.id, url: webhookUrl }, 'retraining.webhook.failed'),
        );
  }

  private async baseVersion(model: string, ref: string, policy: RetrainingPolicy): Promise<VersionInfo> {
    if (ref) return this.deps.catalog.getVersion(model, ref);
    if (policy.baseAlias) return this.deps.catalog.getVersion(model, policy.baseAlias);
    const latest = await this.deps.catalog.latestVersion(model);
    if (!latest) throw new PreconditionError(`model ${model} has no version to retrain from`, { model });
    return latest;
  }

  private async mustGet(id: string): Promise<RetrainingRequest> {
    const r = await this.deps.store.getRequest(id);
    if (!r) throw new NotFoundError('retraining request', id);
    return r;
  }

  private async transition(id: string, when: RequestStatus[], patch: Partial<RetrainingRequest>) {
    const r = await this.deps.store.updateRequest(id, when, patch);
    if (r) return r;
    const current = await this.mustGet(id);
    throw new PreconditionError(`retraining request ${id} is ${current.status}, not ${when.join(' or ')}`, {
      id,
      status: current.status,
    });
  }
}

/** @throws PreconditionError naming the first lineage field that does not match the request. */
export function assertLineage(req: RetrainingRequest, v: VersionInfo): void {
  const l = v.manifest.lineage;
  const checks: [string, string, string][] = [
    ['retraining_request_id', l.retrainingRequestId, req.id],
    ['dataset_snapshot_id', l.datasetSnapshotId, req.snapshotId],
    ['parent_version', l.parentVersion, req.baseVersion],
  ];
  for (const [field, got, want] of checks) {
    if (got !== want)
      throw new PreconditionError(
        `version ${v.version} lineage.${field} is ${JSON.stringify(got)}, the request needs ${JSON.stringify(want)}`,
        { field: `lineage.${field}` },
      );
  }
}

function validatePolicy(p: RetrainingPolicy): void {
  if (!p.model) throw new InvalidArgumentError('policy.model', 'required');
  if (p.cron) {
    try {
      parseCronUtc(p.cron);
    } catch (err) {
      throw new InvalidArgumentError('policy.cron', (err as Error).message);
    }
  }
  for (const k of ['driftPsi', 'driftKs', 'canaryPercent'] as const)
    if (!(p[k] >= 0)) throw new InvalidArgumentError(`policy.${k}`, 'must be >= 0');
  if (p.canaryPercent > 100) throw new InvalidArgumentError('policy.canary_percent', 'at most 100');
  if (p.webhookUrl && !/^https?:\/\//.test(p.webhookUrl))
    throw new InvalidArgumentError('policy.webhook_url', 'must be an http(s) URL');
}
