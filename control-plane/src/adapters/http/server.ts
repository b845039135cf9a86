import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { Registry } from 'prom-client';

export type Route = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean> | boolean;

export interface HttpServerHandle {
  port: number;
  stop(): Promise<void>;
}

/** Health, readiness and Prometheus metrics; feature routes (dashboard, API) are added by main. */
export async function startHttpServer(opts: {
  host: string;
  port: number;
  registry: Registry;
  ready: () => boolean;
  routes?: Route[];
  /** HTTPS with this PEM certificate chain and key (config http.tls); plain HTTP when absent. */
  tls?: { certPem: Buffer; keyPem: Buffer };
}): Promise<HttpServerHandle> {
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      res.statusCode = 500;
      res.end(err instanceof Error ? err.message : 'error');
    });
  };
  const server = opts.tls
    ? createTlsServer({ cert: opts.tls.certPem, key: opts.tls.keyPem }, listener)
    : createServer(listener);
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/healthz') return text(res, 200, 'ok\n');
    if (url.pathname === '/readyz') return opts.ready() ? text(res, 200, 'ready\n') : text(res, 503, 'not ready\n');
    if (url.pathname === '/metrics') {
      res.setHeader('content-type', opts.registry.contentType);
      return text(res, 200, await opts.registry.metrics());
    }
    for (const route of opts.routes ?? []) if (await route(req, res, url)) return;
    text(res, 404, 'not found\n');
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function text(res: ServerResponse, code: number, body: string): void {
  res.statusCode = code;
  if (!res.hasHeader('content-type')) res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.end(body);
}
