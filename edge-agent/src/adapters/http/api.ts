import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { PredictionEvent } from '../../domain/prediction.js';

export type LabelKind = 'confirmed_failure' | 'false_alarm' | 'normal';

export interface LabelInput {
  predictionId: string;
  kind: LabelKind;
  note: string;
  operator: string;
}

export interface AgentApiDeps {
  host: string;
  port: number;
  registry: Registry;
  ready: () => boolean;
  status: () => Record<string, unknown>;
  recentPredictions: (limit: number) => PredictionEvent[];
  /** Stores an operator label durably (it flows upstream through the buffer); throws on unknown prediction ids. */
  submitLabel: (label: LabelInput) => Promise<{ seq: number }>;
}

const MAX_BODY = 16 * 1024;
const KINDS: readonly LabelKind[] = ['confirmed_failure', 'false_alarm', 'normal'];

/**
 * The agent's small local HTTP API for the plant: status, latest predictions with their reasons,
 * operator feedback (labels), health, readiness and Prometheus metrics. Bound to loopback by default.
 */
export async function startAgentApi(deps: AgentApiDeps): Promise<{ port: number; stop(): Promise<void> }> {
  const server = createServer((req, res) => {
    route(deps, req, res).catch((err: unknown) =>
      json(res, 500, { error: err instanceof Error ? err.message : 'error' }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(deps.port, deps.host, () => resolve());
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : deps.port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function route(deps: AgentApiDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const key = `${req.method} ${url.pathname}`;
  switch (key) {
    case 'GET /healthz':
      return json(res, 200, { ok: true });
    case 'GET /readyz':
      return json(res, deps.ready() ? 200 : 503, { ready: deps.ready() });
    case 'GET /metrics':
      res.setHeader('content-type', deps.registry.contentType);
      res.end(await deps.registry.metrics());
      return;
    case 'GET /status':
      return json(res, 200, deps.status());
    case 'GET /predictions': {
      const limit = Math.min(500, Math.max(1, Number(url.searchParams.get('limit') ?? 50) || 50));
      return json(res, 200, { predictions: deps.recentPredictions(limit) });
    }
    case 'POST /labels':
      return postLabel(deps, req, res);
    default:
      return json(res, 404, { error: `no route ${key}` });
  }
}

async function postLabel(deps: AgentApiDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readBody(req);
  if (body === undefined) return json(res, 413, { error: `body larger than ${MAX_BODY} bytes` });
  let parsed: Partial<LabelInput>;
  try {
    parsed = JSON.parse(body) as Partial<LabelInput>;
  } catch {
    return json(res, 400, { error: 'body is not JSON' });
  }
  if (typeof parsed.predictionId !== 'string' || !parsed.predictionId)
    return json(res, 400, { error: 'predictionId: required' });
  if (!KINDS.includes(parsed.kind as LabelKind)) return json(res, 400, { error: `kind: one of ${KINDS.join(', ')}` });
  const label: LabelInput = {
    predictionId: parsed.predictionId,
    kind: parsed.kind as LabelKind,
    note: typeof parsed.note === 'string' ? parsed.note.slice(0, 2000) : '',
    operator: typeof parsed.operator === 'string' ? parsed.operator.slice(0, 200) : '',
  };
  try {
    const { seq } = await deps.submitLabel(label);
    return json(res, 201, { stored: true, seq });
  } catch (err) {
    return json(res, 404, { error: err instanceof Error ? err.message : String(err) });
  }
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        resolve(undefined);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function json(res: ServerResponse, code: number, body: unknown): void {
  res.statusCode = code;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
}
