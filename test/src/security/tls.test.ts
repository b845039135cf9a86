import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { get as httpsGet } from 'node:https';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type GrpcServerHandle, startGrpcServer } from '@millwright/control-plane/adapters/grpc/server.js';
import { FleetServiceService } from '@millwright/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ControlPlaneProcess,
  HARNESS_ADMIN_TOKEN,
  type ManagedProcess,
  mwctl,
  NatsServer,
  PostgresServer,
  S3Server,
  spawnAgent,
  spawnControlPlane,
  waitFor,
} from '../harness/index.js';
import { makePki, type Pki } from './pki.js';

const AGENT = 'agent-tls';
const SITE = 'plant-tls';

let dir: string;
let pki: Pki;
/** Another private CA: its certificates must be refused everywhere. */
let other: Pki;
let nats: NatsServer;
let pg: PostgresServer;
let s3: S3Server;
let databaseUrl: string;
let cp: ControlPlaneProcess;
let agent: ManagedProcess;
const extra: { stop(): Promise<void> }[] = [];

/** Every control plane here: NATS over TLS with a client certificate, S3, and the given extra settings. */
function controlPlaneEnv(more: Record<string, string>): Record<string, string> {
  const e = s3.endpoint;
  return {
    MW_DATABASE_URL: databaseUrl,
    MW_NATS_URL: nats.url,
    MW_NATS_TLS_CA_FILE: pki.ca,
    MW_NATS_TLS_CERT_FILE: pki.client.cert,
    MW_NATS_TLS_KEY_FILE: pki.client.key,
    MW_S3_ENDPOINT: e.endpoint,
    MW_S3_REGION: e.region,
    MW_S3_BUCKET: 'mw-tls',
    MW_S3_ACCESS_KEY_ID: e.accessKeyId,
    MW_S3_SECRET_ACCESS_KEY: e.secretAccessKey,
    MW_S3_FORCE_PATH_STYLE: 'true',
    MW_SIGNING_DEV_KEY_DIR: join(dir, 'keys'),
    MW_INGEST_HEARTBEAT_FLUSH_MS: '100',
    ...more,
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mw-tls-'));
  [pki, other] = await Promise.all([makePki(dir, 'millwright-ca'), makePki(dir, 'other-ca')]);
  // The broker requires TLS and a client certificate from our CA on its client port.
  const tls = { certFile: pki.server.cert, keyFile: pki.server.key, caFile: pki.ca, verify: true };
  [nats, pg, s3] = await Promise.all([NatsServer.start({ tls }), PostgresServer.start(), S3Server.start()]);
  databaseUrl = await pg.createDatabase();
  cp = await spawnControlPlane(
    controlPlaneEnv({
      MW_GRPC_TLS_CERT_FILE: pki.server.cert,
      MW_GRPC_TLS_KEY_FILE: pki.server.key,
      MW_HTTP_TLS_CERT_FILE: pki.server.cert,
      MW_HTTP_TLS_KEY_FILE: pki.server.key,
    }),
  );
  agent = await spawnAgent({
    MW_AGENT_ID: AGENT,
    MW_SITE_ID: SITE,
    MW_NATS_URL: nats.url,
    MW_NATS_TLS_CA_FILE: pki.ca,
    MW_NATS_TLS_CERT_FILE: pki.client.cert,
    MW_NATS_TLS_KEY_FILE: pki.client.key,
    MW_HEARTBEAT_INTERVAL_S: '0.5',
  });
});

afterAll(async () => {
  for (const x of extra.reverse()) await x.stop();
  await agent?.stop();
  await cp?.proc.stop();
  await Promise.all([nats?.dispose(), pg?.dispose(), s3?.dispose()]);
  await rm(dir, { recursive: true, force: true });
});

/** mwctl against the TLS control plane, trusting `ca` (our CA unless given). */
const ctl = (args: string[], env: Record<string, string> = {}) => mwctl(['--server', cp.grpcAddr, ...args], env);

describe('a control plane and an agent over NATS TLS, mwctl over gRPC TLS (private CA)', () => {
  it('shows the agent online: its heartbeats crossed NATS TLS, and mwctl trusted the server with --ca', async () => {
    const agentOnline = await waitFor(
      `${AGENT} online`,
      async () => {
        const res = await ctl(['--ca', pki.ca, 'fleet', 'get', AGENT, '--json']);
        const a = res.code === 0 ? (JSON.parse(res.stdout) as { health: string; siteId: string }) : undefined;
        return a?.health === 'online' ? a : undefined;
      },
      60_000,
      250,
    );
    expect(agentOnline.siteId).toBe(SITE);
    expect(nats.url.startsWith('tls://')).toBe(true);
  });

  it('takes MW_CA_FILE instead of --ca, for every command group (rollouts and retraining included)', async () => {
    const env = { MW_CA_FILE: pki.ca };
    for (const args of [
      ['fleet', 'ls'],
      ['sites', 'ls'],
      ['models', 'ls'],
      ['rollouts', 'ls'],
      ['retraining', 'ls'],
      ['audit', 'ls'],
    ]) {
      const res = await ctl(args, env);
      expect({ args, code: res.code, stderr: res.stderr }).toEqual({ args, code: 0, stderr: '' });
    }
  });

  it('streams a model upload over TLS and reads the version back', async () => {
    const artifact = Buffer.from(JSON.stringify({ weights: [1, -2], intercept: 0.5 }));
    await writeFile(join(dir, 'model.json'), artifact);
    await writeFile(
      join(dir, 'manifest.json'),
      JSON.stringify({
        runtime: 'MODEL_RUNTIME_LINEAR',
        inputs: [{ name: 'a' }, { name: 'b' }],
        output: { meaning: 'score', alertThreshold: 9 },
        selfTest: [{ inputs: [1, 1], expectedScore: -0.5, tolerance: 1e-9 }],
      }),
    );
    const push = await ctl([
      '--ca',
      pki.ca,
      'models',
      'push',
      'tls-model',
      '1.0.0',
      '--artifact',
      join(dir, 'model.json'),
      '--manifest',
      join(dir, 'manifest.json'),
      '--create',
    ]);
    expect(push.stderr).not.toMatch(/error/i);
    expect(push.code).toBe(0);
    const got = await ctl(['--ca', pki.ca, 'models', 'get', 'tls-model', '1.0.0', '--json']);
    expect(got.code).toBe(0);
    expect((JSON.parse(got.stdout) as { sha256: string }).sha256).toBe(
      createHash('sha256').update(artifact).digest('hex'),
    );
  });

  it('refuses a control plane whose certificate another CA signed: exit 5 and says the certificate is not trusted', async () => {
    const res = await ctl(['--ca', other.ca, 'fleet', 'ls']);
    expect(res.code).toBe(5);
    expect(res.stderr).toMatch(/unable to verify the first certificate/);
    expect(res.stderr).toMatch(/server certificate is not trusted; pass --ca/);
    // --tls trusts only the system CAs, which do not include ours either.
    const system = await ctl(['--tls', 'fleet', 'ls']);
    expect(system.code).toBe(5);
    expect(system.stderr).toMatch(/server certificate is not trusted/);
  });

  it('answers no plaintext call on the TLS port: exit 5, no output', async () => {
    const res = await ctl(['fleet', 'ls']);
    expect(res.code).toBe(5);
    expect(res.stdout).toBe('');
  });

  it('exits 2 naming the file when --ca cannot be read', async () => {
    const res = await ctl(['--ca', join(dir, 'missing.pem'), 'fleet', 'ls']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`--ca: cannot read ${join(dir, 'missing.pem')}`);
  });
});

describe('the dashboard, its JSON API and /metrics over HTTPS (http.tls)', () => {
  const httpsUrl = () => cp.httpUrl.replace(/^http:/, 'https:');

  it('answers over HTTPS to a client trusting our CA, and refuses one trusting another CA', async () => {
    expect(await statusOver(`${httpsUrl()}/metrics`, pki.ca)).toBe(200);
    await expect(statusOver(`${httpsUrl()}/healthz`, other.ca)).rejects.toThrow(
      /unable to verify the first certificate/,
    );
  });

  it('serves nothing over plain HTTP on that port', async () => {
    await expect(fetch(`${cp.httpUrl}/healthz`)).rejects.toThrow();
  });

  it('runs mwctl alerts over HTTPS trusting --ca, and refuses another CA with exit 5', async () => {
    const alerts = (...args: string[]) => ctl(['--ca', pki.ca, 'alerts', 'rules', ...args, '--http', httpsUrl()]);
    const added = await alerts('add', 'tls-offline', '--kind', 'agent_offline', '--webhook', 'https://hooks.example/x');
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    const ok = await alerts('ls', '--json');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject([{ id: 'tls-offline', kind: 'agent_offline' }]);
    expect((await alerts('rm', 'tls-offline')).code).toBe(0);
    expect(JSON.parse((await alerts('ls', '--json')).stdout)).toEqual([]);
    const bad = await ctl(['--ca', other.ca, 'alerts', 'rules', 'ls', '--http', httpsUrl()]);
    expect(bad.code).toBe(5);
    expect(bad.stderr).toMatch(/unable to verify the first certificate/);
  });
});

describe('mutual TLS on gRPC (grpc.tls.clientCaFile): a second replica requires client certificates', () => {
  let mtls: ControlPlaneProcess;

  beforeAll(async () => {
    mtls = await spawnControlPlane(
      controlPlaneEnv({
        MW_GRPC_TLS_CERT_FILE: pki.server.cert,
        MW_GRPC_TLS_KEY_FILE: pki.server.key,
        MW_GRPC_TLS_CLIENT_CA_FILE: pki.ca,
      }),
      'control-plane-mtls',
    );
    extra.push({ stop: () => mtls.proc.stop() });
  });

  it('serves mwctl with --cert/--key from our CA', async () => {
    const res = await mwctl([
      '--server',
      mtls.grpcAddr,
      '--ca',
      pki.ca,
      '--cert',
      pki.client.cert,
      '--key',
      pki.client.key,
      'fleet',
      'get',
      AGENT,
      '--json',
    ]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ id: AGENT, siteId: SITE });
  });

  it('refuses mwctl without a client certificate (exit 5, says so) and with one from another CA', async () => {
    const none = await mwctl(['--server', mtls.grpcAddr, '--ca', pki.ca, 'fleet', 'ls']);
    expect(none.code).toBe(5);
    expect(none.stderr).toMatch(/requires a client certificate it trusts; pass --cert and --key/);
    const foreign = await mwctl([
      '--server',
      mtls.grpcAddr,
      '--ca',
      pki.ca,
      '--cert',
      other.client.cert,
      '--key',
      other.client.key,
      'fleet',
      'ls',
    ]);
    expect(foreign.code).toBe(5);
    expect(foreign.stdout).toBe('');
  });

  it('exits 2 when --cert comes without --key', async () => {
    const res = await mwctl(['--server', mtls.grpcAddr, '--ca', pki.ca, '--cert', pki.client.cert, 'fleet', 'ls']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('--cert and --key go together');
  });
});

describe('mwctl never sends the API token in plaintext by accident', () => {
  /** A plaintext FleetService that records the authorization header of every ListAgents call. */
  let plain: GrpcServerHandle;
  const seen: string[] = [];
  const host = nonLoopbackAddress();

  beforeAll(async () => {
    plain = await startGrpcServer('0.0.0.0', 0, [
      {
        name: 'millwright.v1.FleetService',
        definition: FleetServiceService,
        implementation: {
          listAgents: (
            call: { metadata: { get(key: string): unknown[] } },
            cb: (err: null, res: { agents: []; nextPageToken: string }) => void,
          ) => {
            seen.push(String(call.metadata.get('authorization')[0] ?? ''));
            cb(null, { agents: [], nextPageToken: '' });
          },
        },
      },
    ]);
    extra.push(plain);
  });

  it('refuses a token to a non-loopback plaintext server (exit 2) before connecting', async () => {
    const res = await mwctl(['--server', `${host}:${plain.port}`, 'fleet', 'ls']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`refusing to send the API token in plaintext to ${host}`);
    expect(seen).toEqual([]);
  });

  it('sends it there only with --allow-plaintext (or MW_ALLOW_PLAINTEXT=true)', async () => {
    const flag = await mwctl(['--server', `${host}:${plain.port}`, '--allow-plaintext', 'fleet', 'ls']);
    expect(flag.code).toBe(0);
    const env = await mwctl(['--server', `${host}:${plain.port}`, 'fleet', 'ls'], { MW_ALLOW_PLAINTEXT: 'true' });
    expect(env.code).toBe(0);
    expect(seen.splice(0)).toEqual([`Bearer ${HARNESS_ADMIN_TOKEN}`, `Bearer ${HARNESS_ADMIN_TOKEN}`]);
  });

  it('sends it in plaintext to loopback (development), and sends no token when none is set', async () => {
    expect((await mwctl(['--server', `127.0.0.1:${plain.port}`, 'fleet', 'ls'])).code).toBe(0);
    expect((await mwctl(['--server', `${host}:${plain.port}`, 'fleet', 'ls'], { MW_TOKEN: '' })).code).toBe(0);
    expect(seen.splice(0)).toEqual([`Bearer ${HARNESS_ADMIN_TOKEN}`, '']);
  });

  it('never downgrades: with --ca against this plaintext server the call fails (exit 5) and nothing arrives', async () => {
    const res = await mwctl(['--server', `127.0.0.1:${plain.port}`, '--ca', pki.ca, 'fleet', 'ls']);
    expect(res.code).toBe(5);
    expect(res.stderr).toMatch(/wrong version number/);
    expect(seen).toEqual([]);
  });

  it('applies the same rule to the HTTP API of mwctl alerts', async () => {
    const res = await mwctl(['alerts', 'rules', 'ls', '--http', `http://${host}:${plain.port}`]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`refusing to send the API token in plaintext to ${host}`);
  });
});

describe('NATS TLS refuses what it cannot trust', () => {
  /** A broker whose certificate another CA signed. */
  let foreign: NatsServer;
  /** A broker without TLS. */
  let plaintext: NatsServer;

  beforeAll(async () => {
    [foreign, plaintext] = await Promise.all([
      NatsServer.start({ tls: { certFile: other.server.cert, keyFile: other.server.key } }),
      NatsServer.start(),
    ]);
    extra.push({ stop: () => foreign.dispose() }, { stop: () => plaintext.dispose() });
  });

  it('an agent trusting our CA refuses the foreign broker and logs why, while it keeps running offline', async () => {
    const a = await spawnAgent({
      MW_AGENT_ID: 'agent-foreign',
      MW_SITE_ID: SITE,
      MW_NATS_URL: foreign.url,
      MW_NATS_TLS_CA_FILE: pki.ca,
    });
    extra.push(a);
    const [line] = await a.waitForOutput(/.*"nats\.connect_failed".*/, 30_000);
    expect(line).toMatch(/unable to verify the first certificate/);
    expect(a.running).toBe(true);
    expect(a.stdout).not.toMatch(/"nats\.connected"/);
  });

  it('the control plane refuses the foreign broker and does not start', async () => {
    await expect(
      spawnControlPlane(controlPlaneEnv({ MW_NATS_URL: foreign.url }), 'control-plane-foreign'),
    ).rejects.toThrow(/unable to verify the first certificate/);
  });

  it('a tls:// URL without any TLS file still requires TLS: no plaintext fallback to a server without it', async () => {
    const url = plaintext.url.replace(/^nats:/, 'tls:');
    const a = await spawnAgent({ MW_AGENT_ID: 'agent-downgrade', MW_SITE_ID: SITE, MW_NATS_URL: url });
    extra.push(a);
    const [line] = await a.waitForOutput(/.*"nats\.connect_failed".*/, 30_000);
    expect(line).toMatch(/server does not support 'tls'/);
    await expect(
      spawnControlPlane(controlPlaneEnv({ MW_NATS_URL: url, MW_NATS_TLS_CA_FILE: pki.ca }), 'control-plane-downgrade'),
    ).rejects.toThrow(/server does not support 'tls'/);
  });
});

/** GET over HTTPS trusting `caFile` only; resolves to the status code. */
function statusOver(url: string, caFile: string): Promise<number> {
  return new Promise((resolve, reject) => {
    httpsGet(url, { ca: readFileSync(caFile) }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

/**
 * An address of this machine that is not loopback; 0.0.0.0 when no interface has one (on Linux a
 * connection to 0.0.0.0 reaches this host, and it is not a loopback address either).
 */
function nonLoopbackAddress(): string {
  const v4 = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal);
  return v4?.address ?? '0.0.0.0';
}
