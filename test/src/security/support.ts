import { CliError, call, insecure } from '@millwright/control-plane/cli/client.js';
import { AdminServiceClient, Role } from '@millwright/proto';

/** gRPC status names as mwctl's client reports them. */
export const status = {
  OK: 'OK',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  PERMISSION_DENIED: 'PERMISSION_DENIED',
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
} as const;

// biome-ignore lint/suspicious/noExplicitAny: generated clients differ per method; the tests pass raw requests.
type AnyMethod = (...args: any[]) => unknown;

/**
 * A unary call returning the gRPC status name ('OK' on success) instead of throwing; the request is
 * sent as given (junk included), with `token` as the bearer token when set.
 */
export async function statusOf<Res = unknown>(
  client: unknown,
  method: AnyMethod,
  req: unknown,
  token?: string,
): Promise<{ code: string; details: string; res?: Res }> {
  try {
    const res = (await call(client as never, method as never, req as never, {
      timeoutMs: 30_000,
      ...(token !== undefined ? { token } : {}),
    })) as Res;
    return { code: status.OK, details: '', res };
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    const [code = '', ...rest] = err.message.split(': ');
    return { code, details: rest.join(': ') };
  }
}

/** Creates an API token with the admin token; returns its secret. */
export async function createToken(addr: string, adminToken: string, name: string, role: Role): Promise<string> {
  const admin = new AdminServiceClient(addr, insecure());
  try {
    const res = await call(
      admin,
      admin.createApiToken,
      { name, role, ttlS: 0 },
      { timeoutMs: 30_000, token: adminToken },
    );
    return res.secret;
  } finally {
    admin.close();
  }
}

/** The sum of a Prometheus metric's samples matching `labels`, 0 when absent. */
export async function metric(httpUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (want.every((w) => line.includes(w))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

export { Role };
