/**
 * The dashboard's JSON API under /api. Every request names its user by bearer token (header, or
 * `access_token` in the query for EventSource, which cannot set headers); the Authorizer decides.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { InvalidArgumentError, MillwrightError, NotFoundError } from '../domain/errors.js';
import type { AlertRuleService } from '../notifications/rules.js';
import type { EventHub } from './events.js';
import { buildOverview, type Overview } from './overview.js';
import {
  type Authorizer,
  type FleetReads,
  LABEL_KINDS,
  type LabelKind,
  type LabelWriter,
  type ModelReads,
  type Permission,
  type Principal,
  type RecordReads,
  ROLLOUT_ACTIONS,
  type RolloutAction,
  type RolloutActions,
  type RolloutReads,
} from './ports.js';

export interface DashboardApiDeps {
  fleet: FleetReads;
  records: RecordReads;
  labels: LabelWriter;
  auth: Authorizer;
  events: EventHub;
  models?: ModelReads;
  rollouts?: RolloutReads;
  rolloutActions?: RolloutActions;
  alerts?: AlertRuleService;
  now: () => number;
  /** Window of the fleet signals (drift, drops) on the overview. @default 15 min */
  signalsWindowMs?: number;
  log: Logger;
}

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: string[];
  principal: Principal;
}

type Handler = (ctx: Ctx) => Promise<unknown>;

interface RouteDef {
  method: string;
  pattern: RegExp;
  perm: Permission;
  handler: Handler;
}

const MAX_BODY = 64 * 1024;

export class HttpError extends MillwrightError {}

const STATUS: Record<string, number> = {
  INVALID: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  CONFLICT: 409,
  PRECONDITION: 412,
  UNAVAILABLE: 503,
};

export class DashboardApi {
  private readonly routes: RouteDef[];

  constructor(private readonly deps: DashboardApiDeps) {
    this.routes = this.table();
  }

  /** The overview as the first page and the SSE stream show it. */
  async overview(): Promise<Overview> {
    const now = this.deps.now();
    const [agents, sites, signals] = await Promise.all([
      this.deps.fleet.agents(),
      this.deps.fleet.sites(),
      this.deps.records.signals(now - (this.deps.signalsWindowMs ?? 15 * 60_000)),
    ]);
    return buildOverview({ nowMs: now, agents, sites, signals });
  }

  /** Route for the HTTP server: true when it answered. */
  readonly route = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> => {
    if (!url.pathname.startsWith('/api/')) return false;
    try {
      await this.dispatch(req, res, url);
    } catch (err) {
      this.fail(res, err);
    }
    return true;
  };

  private async dispatch(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    let methodMismatch = false;
    for (const r of this.routes) {
      const m = r.pattern.exec(url.pathname);
      if (!m) continue;
      if (r.method !== req.method) {
        methodMismatch = true;
        continue;
      }
      const principal = await this.authorize(req, url, r.perm);
      const params = m.slice(1).map((p) => decodeURIComponent(p));
      const out = await r.handler({ req, res, url, params, principal });
      if (out !== undefined) json(res, req.method === 'POST' ? 201 : 200, out);
      return;
    }
    throw methodMismatch
      ? new HttpError('INVALID', `method ${req.method} not allowed`)
      : new NotFoundError('path', url.pathname);
  }

  private async authorize(req: IncomingMessage, url: URL, perm: Permission): Promise<Principal> {
    const principal = await this.deps.auth.authenticate(bearerOf(req, url));
    if (!principal) throw new HttpError('UNAUTHENTICATED', 'a valid API token is required');
    if (!this.deps.auth.allows(principal, perm))
      throw new HttpError('PERMISSION_DENIED', `role ${principal.role} may not ${perm}`, { perm });
    return principal;
  }

  private fail(res: ServerResponse, err: unknown): void {
    if (res.headersSent) {
      res.end();
      return;
    }
    if (err instanceof MillwrightError) {
      const status = STATUS[err.code] ?? 500;
      json(res, status, { error: { code: err.code, message: err.message, field: err.details.field } });
      return;
    }
    this.deps.log.error({ err }, 'dashboard.api_failed');
    json(res, 500, { error: { code: 'INTERNAL', message: 'internal error' } });
  }

  private table(): RouteDef[] {
    const d = this.deps;
    const get = (pattern: RegExp, handler: Handler): RouteDef => ({ method: 'GET', pattern, perm: 'read', handler });
    return [
      get(/^\/api\/session$/, async (c) => this.session(c.principal)),
      get(/^\/api\/overview$/, () => this.overview()),
      get(/^\/api\/events$/, async (c) => {
        d.events.attach(c.res);
        return undefined;
      }),
      get(/^\/api\/agents$/, async () => (await d.fleet.agents()).sort((a, b) => a.id.localeCompare(b.id))),
      get(/^\/api\/agents\/([^/]+)$/, (c) => this.agent(c.params[0]!, c.url)),
      get(/^\/api\/agents\/([^/]+)\/predictions$/, (c) =>
        d.records.predictions(c.params[0]!, intParam(c.url, 'limit', 25, 1, 500)),
      ),
      get(/^\/api\/models$/, async () => (d.models ? d.models.models() : [])),
      get(/^\/api\/rollouts$/, async (c) => this.rolloutReads().list(intParam(c.url, 'limit', 50, 1, 500))),
      get(/^\/api\/rollouts\/([^/]+)$/, async (c) => {
        const r = await this.rolloutReads().get(c.params[0]!);
        if (!r) throw new NotFoundError('rollout', c.params[0]!);
        return r;
      }),
      {
        method: 'POST',
        pattern: /^\/api\/rollouts\/([^/]+)\/(pause|resume|promote|abort|rollback)$/,
        perm: 'rollouts.operate',
        handler: (c) => this.rolloutAction(c),
      },
      { method: 'POST', pattern: /^\/api\/labels$/, perm: 'label', handler: (c) => this.label(c) },
      get(/^\/api\/alerts\/rules$/, async () => this.alerts().list()),
      get(/^\/api\/alerts\/events$/, async (c) => this.alerts().recent(intParam(c.url, 'limit', 50, 1, 500))),
      {
        method: 'POST',
        pattern: /^\/api\/alerts\/rules$/,
        perm: 'alerts.manage',
        handler: async (c) => this.alerts().add((await readJson(c.req)) as Parameters<AlertRuleService['add']>[0]),
      },
      {
        method: 'DELETE',
        pattern: /^\/api\/alerts\/rules\/([^/]+)$/,
        perm: 'alerts.manage',
        handler: async (c) => {
          await this.alerts().remove(c.params[0]!);
          return { removed: c.params[0] };
        },
      },
    ];
  }

  private session(p: Principal) {
    const a = this.deps.auth;
    return {
      user: p.name,
      role: p.role,
      can: {
        label: a.allows(p, 'label'),
        operateRollouts: a.allows(p, 'rollouts.operate') && this.deps.rolloutActions !== undefined,
        manageAlerts: a.allows(p, 'alerts.manage') && this.deps.alerts !== undefined,
      },
      features: {
        rollouts: this.deps.rollouts !== undefined,
        rolloutActions: this.deps.rolloutActions !== undefined,
        alerts: this.deps.alerts !== undefined,
      },
    };
  }

  private async agent(id: string, url: URL) {
    const d = this.deps;
    const agent = await d.fleet.agent(id);
    if (!agent) throw new NotFoundError('agent', id);
    const minutes = intParam(url, 'minutes', 60, 5, 7 * 24 * 60);
    const since = d.now() - minutes * 60_000;
    const bucketMs = Math.max(10_000, Math.ceil((minutes * 60_000) / 60 / 10_000) * 10_000);
    const [history, series, cleaning] = await Promise.all([
      d.fleet.history(id, since, 200),
      d.records.series(id, since, bucketMs),
      d.records.cleaning(id, since),
    ]);
    return { agent, history, series, cleaning, window: { sinceMs: since, bucketMs, nowMs: d.now() } };
  }

  private async label(c: Ctx) {
    const body = (await readJson(c.req)) as Record<string, unknown>;
    const predictionId = typeof body.predictionId === 'string' ? body.predictionId : '';
    if (!predictionId) throw new InvalidArgumentError('predictionId', 'required');
    const kind = body.kind as LabelKind;
    if (!LABEL_KINDS.includes(kind)) throw new InvalidArgumentError('kind', `one of ${LABEL_KINDS.join(', ')}`);
    const note = typeof body.note === 'string' ? body.note.slice(0, 2000) : '';
    const agentId = await this.deps.records.predictionAgent(predictionId);
    if (!agentId) throw new NotFoundError('prediction', predictionId);
    const { name: operator, role } = c.principal;
    const { id } = await this.deps.labels.write({ predictionId, agentId, kind, note, operator, role });
    this.deps.log.info({ predictionId, agentId, kind, operator }, 'dashboard.label');
    return { id, predictionId, agentId, kind, operator };
  }

  private async rolloutAction(c: Ctx) {
    if (!this.deps.rolloutActions) throw new HttpError('UNAVAILABLE', 'rollout actions are not available');
    const action = c.params[1] as RolloutAction;
    if (!ROLLOUT_ACTIONS.includes(action)) throw new InvalidArgumentError('action', 'unknown');
    const body = (await readJson(c.req)) as { reason?: unknown };
    const reason = typeof body.reason === 'string' ? body.reason.trim() : '';
    if (!reason) throw new InvalidArgumentError('reason', 'required');
    await this.deps.rolloutActions.act(c.params[0]!, action, reason, c.principal);
    return { id: c.params[0], action, by: c.principal.name };
  }

  private rolloutReads(): RolloutReads {
    if (!this.deps.rollouts) throw new HttpError('UNAVAILABLE', 'rollouts are not available');
    return this.deps.rollouts;
  }

  private alerts(): AlertRuleService {
    if (!this.deps.alerts) throw new HttpError('UNAVAILABLE', 'notifications are not available');
    return this.deps.alerts;
  }
}

function bearerOf(req: IncomingMessage, url: URL): string | undefined {
  const h = req.headers.authorization;
  if (h?.startsWith('Bearer ')) return h.slice(7).trim() || undefined;
  return url.searchParams.get('access_token') ?? undefined;
}

function intParam(url: URL, name: string, def: number, min: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null) return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(name, `an integer ${min}..${max}`);
  return n;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new InvalidArgumentError('body', `larger than ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new InvalidArgumentError('body', 'not JSON');
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
