/** `mwctl alerts rules ls|add|rm`: alert rules over the control plane's JSON API (HTTP port). */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ParsedArgs } from './args.js';
import { CliError, EXIT, refusePlaintextToken } from './client.js';
import { table } from './format.js';

export const ALERTS_USAGE = `  alerts rules ls [--http URL]
  alerts rules add ID --kind agent_offline|update_failed|rollout_paused|drift|buffer_full|dropping --webhook URL
                   [--param minutes=5|threshold=3|percent=80]...   (HTTP API: --http or MW_HTTP_URL, default http://127.0.0.1:8080;
                   an https:// URL trusts --ca FILE, else the system CAs)
  alerts rules rm ID`;

const HTTP_EXIT: Record<number, number> = {
  400: EXIT.INVALID,
  401: EXIT.DENIED,
  403: EXIT.DENIED,
  404: EXIT.NOT_FOUND,
  409: EXIT.CONFLICT,
  503: EXIT.UNAVAILABLE,
};

interface Rule {
  id: string;
  kind: string;
  params: Record<string, number>;
  webhookUrl: string;
  enabled: boolean;
}

/** What the HTTP API calls need: the token, and the transport settings of transport.ts. */
interface HttpOpts {
  token?: string | undefined;
  timeoutMs: number;
  caPem?: Buffer | undefined;
  allowPlaintext?: boolean | undefined;
}

export async function alertsCommand(args: ParsedArgs, opts: HttpOpts, env: NodeJS.ProcessEnv): Promise<string> {
  const [group, sub, id] = args.positionals;
  const base = (args.flags.http?.[0] ?? env.MW_HTTP_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
  const req = (method: string, path: string, body?: unknown) => request(base, opts, method, path, body);
  if (group !== 'rules') throw new CliError(`usage:\n${ALERTS_USAGE}`, EXIT.USAGE);
  if (sub === 'ls') {
    const rules = (await req('GET', '/api/alerts/rules')) as Rule[];
    if (args.json) return JSON.stringify(rules, null, 2);
    return table(
      ['ID', 'KIND', 'PARAMS', 'WEBHOOK', 'ENABLED'],
      rules.map((r) => [r.id, r.kind, paramsText(r.params), hostOf(r.webhookUrl), r.enabled ? 'yes' : 'no']),
    );
  }
  if (sub === 'add' && id) {
    const kind = args.flags.kind?.[0];
    const webhookUrl = args.flags.webhook?.[0];
    if (!kind || !webhookUrl) throw new CliError('alerts rules add needs --kind and --webhook', EXIT.USAGE);
    const rule = (await req('POST', '/api/alerts/rules', {
      id,
      kind,
      webhookUrl,
      params: parseParams(args.flags.param ?? []),
    })) as Rule;
    return args.json
      ? JSON.stringify(rule, null, 2)
      : `added rule ${rule.id} (${rule.kind} ${paramsText(rule.params)})`;
  }
  if (sub === 'rm' && id) {
    await req('DELETE', `/api/alerts/rules/${encodeURIComponent(id)}`);
    return `removed rule ${id}`;
  }
  throw new CliError(`usage:\n${ALERTS_USAGE}`, EXIT.USAGE);
}

function parseParams(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) {
    const [k, n] = v.split('=');
    if (!k || n === undefined || !Number.isFinite(Number(n)))
      throw new CliError(`--param ${v}: expected NAME=NUMBER`, EXIT.USAGE);
    out[k] = Number(n);
  }
  return out;
}

const paramsText = (p: Record<string, number>) =>
  Object.entries(p)
    .map(([k, v]) => `${k}=${v}`)
    .join(',') || '-';

/** Webhook URLs carry secrets in their path: show the host only. */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

async function request(base: string, opts: HttpOpts, method: string, path: string, body?: unknown): Promise<unknown> {
  const url = new URL(`${base}${path}`);
  if (url.protocol !== 'https:') refusePlaintextToken(url.hostname, opts.token, opts.allowPlaintext);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: { status: number; text: string };
  try {
    res = await send(url, { method, headers, ...(opts.caPem ? { ca: opts.caPem } : {}) }, body, opts.timeoutMs);
  } catch (err) {
    throw new CliError(`cannot reach ${base}: ${(err as Error).message}`, EXIT.UNAVAILABLE);
  }
  let data: { error?: { message?: string } } = {};
  try {
    data = JSON.parse(res.text) as typeof data;
  } catch {
    // not JSON (a proxy's error page): the status code speaks
  }
  const ok = res.status >= 200 && res.status < 300;
  if (!ok) throw new CliError(data.error?.message ?? `HTTP ${res.status}`, HTTP_EXIT[res.status] ?? EXIT.ERROR);
  return data;
}

/** node:http(s) rather than fetch: fetch cannot be told to trust a private CA (`--ca`). */
function send(
  url: URL,
  options: { method: string; headers: Record<string, string>; ca?: Buffer },
  body: unknown,
  timeoutMs: number,
): Promise<{ status: number; text: string }> {
  const make = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = make(url, { ...options, signal: AbortSignal.timeout(timeoutMs) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}
