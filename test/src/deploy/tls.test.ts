import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, get as httpGet, type Server } from 'node:http';
import { get as httpsGet, type RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ControlPlaneProcess,
  freePort,
  mwctl,
  NatsServer,
  PostgresServer,
  S3Server,
  spawnControlPlane,
} from '../harness/index.js';
import { deployPath, readDeploy, runInitSecrets, substitute, yamlDocs } from './support.js';

/**
 * The control plane run for real with the deployment's own settings: the compose replica's
 * environment with the secrets init-secrets.sh writes, and the Kubernetes ConfigMap with the files of
 * its TLS Secret. Only the addresses of NATS, PostgreSQL and S3 (this test's servers), the ports
 * (free ones) and the secret paths (a directory standing in for /run/secrets) are changed.
 */
const exec = promisify(execFile);

interface Service {
  command?: string[];
  environment: Record<string, string>;
  secrets: string[];
  healthcheck: { test: string[] };
}
const compose = yamlDocs(deployPath('compose/compose.yaml'))[0] as {
  services: Record<string, Service>;
  secrets: Record<string, { file: string }>;
};
const composeReplicas = Object.entries(compose.services).filter(([, s]) => s.command?.[0] === 'mw-control-plane');
const [replicaName, replica] = composeReplicas[0]!;

let work: string;
let secrets: string;
/** Stands in for /run/secrets of the compose replica. */
let runSecrets: string;
let nats: NatsServer;
let pg: PostgresServer;
let s3: S3Server;
let composeCp: ControlPlaneProcess;
let composePorts: { grpc: number; http: number };
let k8sCp: ControlPlaneProcess;
let k8sPorts: { grpc: number; http: number };
/** Stands in for the mounted kubernetes.io/tls Secret (tls.crt, tls.key, ca.crt). */
let k8sTls: string;

async function migratedDatabase(): Promise<string> {
  const url = await pg.createDatabase();
  const res = await mwctl(['migrate'], { MW_DATABASE_URL: url });
  if (res.code !== 0) throw new Error(`mwctl migrate failed: ${res.stderr}`);
  return url;
}

async function startComposeReplica(): Promise<void> {
  runSecrets = join(work, 'run-secrets');
  await mkdir(runSecrets);
  for (const [name, { file }] of Object.entries(compose.secrets)) {
    await copyFile(join(secrets, '..', file), join(runSecrets, name));
  }
  // The migrate job's work (`mwctl migrate`), then the secrets that name this test's servers.
  await writeFile(join(runSecrets, 'database_url'), await migratedDatabase());
  await writeFile(join(runSecrets, 's3_access_key_id'), s3.endpoint.accessKeyId);
  await writeFile(join(runSecrets, 's3_secret_access_key'), s3.endpoint.secretAccessKey);
  composePorts = { grpc: await freePort(), http: await freePort() };
  const env = Object.fromEntries(
    Object.entries(replica.environment).map(([k, v]) => [k, v.replace(/^\/run\/secrets\//, `${runSecrets}/`)]),
  );
  composeCp = await spawnControlPlane(
    {
      ...env,
      MW_NATS_URL: nats.url,
      MW_S3_ENDPOINT: s3.endpoint.endpoint,
      MW_GRPC_PORT: String(composePorts.grpc),
      MW_HTTP_PORT: String(composePorts.http),
    },
    'compose-replica',
  );
}

async function startKubernetesPod(): Promise<void> {
  // As `kubectl create secret generic millwright-control-plane-tls --type=kubernetes.io/tls` lays it out.
  k8sTls = join(work, 'k8s-tls');
  await mkdir(k8sTls);
  await copyFile(join(secrets, 'control-plane.pem'), join(k8sTls, 'tls.crt'));
  await copyFile(join(secrets, 'control-plane-key.pem'), join(k8sTls, 'tls.key'));
  await copyFile(join(secrets, 'ca.pem'), join(k8sTls, 'ca.crt'));
  const configMap = yamlDocs(deployPath('kubernetes/base/configmap.yaml'))[0] as { data: Record<string, string> };
  const configFile = join(work, 'control-plane.yaml');
  await writeFile(configFile, substitute(configMap.data['control-plane.yaml']!, '/etc/millwright/tls/', `${k8sTls}/`));
  k8sPorts = { grpc: await freePort(), http: await freePort() };
  k8sCp = await spawnControlPlane(
    {
      MW_CONFIG_FILE: configFile,
      MW_DATABASE_URL: await migratedDatabase(),
      MW_NATS_URL: nats.url,
      // One test server instead of the three-node cluster the ConfigMap's R3 needs.
      MW_NATS_REPLICAS: '1',
      MW_S3_ENDPOINT: s3.endpoint.endpoint,
      MW_S3_ACCESS_KEY_ID: s3.endpoint.accessKeyId,
      MW_S3_SECRET_ACCESS_KEY: s3.endpoint.secretAccessKey,
      MW_S3_FORCE_PATH_STYLE: 'true',
      MW_SIGNING_KEY_FILE: join(secrets, 'signing_key.pem'),
      MW_GRPC_PORT: String(k8sPorts.grpc),
      MW_HTTP_PORT: String(k8sPorts.http),
    },
    'k8s-pod',
  );
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mw-deploy-tls-'));
  secrets = await runInitSecrets(join(work, 'compose'));
  [nats, pg, s3] = await Promise.all([NatsServer.start(), PostgresServer.start(), S3Server.start()]);
  await startComposeReplica();
  await startKubernetesPod();
});

afterAll(async () => {
  await Promise.all([composeCp?.proc.stop(), k8sCp?.proc.stop()]);
  await Promise.all([nats?.dispose(), pg?.dispose(), s3?.dispose()]);
  await rm(work, { recursive: true, force: true });
});

/** GET over HTTPS or HTTP; resolves with the status, or with the error's code when the request fails. */
function get(scheme: 'https' | 'http', opts: RequestOptions): Promise<number | string> {
  return new Promise((resolve) => {
    const req = (scheme === 'https' ? httpsGet : httpGet)({ host: '127.0.0.1', timeout: 5_000, ...opts }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** Runs a health-check command (`node -e SCRIPT`) and returns its exit code. */
async function healthcheck(script: string, env: Record<string, string> = {}): Promise<number> {
  try {
    await exec(process.execPath, ['-e', script], { env: { ...process.env, ...env }, timeout: 10_000 });
    return 0;
  } catch (err) {
    return (err as { code?: number }).code ?? 1;
  }
}

describe(`the compose replica (${replicaName}) run with its environment and init-secrets.sh's secrets`, () => {
  it("lists the fleet with the header's mwctl example: --ca of the stack's CA, the bootstrap admin token", async () => {
    const line = readDeploy('compose/compose.yaml')
      .split('\n')
      .find((l) => /mwctl .*--ca deploy\/compose\/secrets\//.test(l));
    expect(line).toBeDefined();
    const args = line!
      .slice(line!.indexOf('mwctl ') + 'mwctl '.length)
      .replaceAll('deploy/compose/secrets/', `${secrets}/`)
      .replace(/localhost:\d+/, `localhost:${composePorts.grpc}`)
      .split(/\s+/);
    expect(args).toContain('--ca');
    expect(args).toContain('--token-file');
    const res = await mwctl([...args, '--json']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(Array.isArray(JSON.parse(res.stdout))).toBe(true);
  });

  it('is TLS-only: a client that does not trust the CA is refused (exit 5)', async () => {
    const res = await mwctl(['--server', `127.0.0.1:${composePorts.grpc}`, '--tls', 'fleet', 'ls']);
    expect(res.code).toBe(5);
    expect(res.stderr).toMatch(/not trusted/);
  });

  it('presents a certificate valid for every replica name of the stack, and for no other service', async () => {
    const ca = readFileSync(join(secrets, 'ca.pem'));
    const handshake = (servername: string) =>
      new Promise<string>((resolve) => {
        const socket = tlsConnect({
          host: '127.0.0.1',
          port: composePorts.grpc,
          servername,
          ca,
          ALPNProtocols: ['h2'],
        });
        socket.on('secureConnect', () => {
          resolve(socket.authorized ? 'authorized' : String(socket.authorizationError));
          socket.destroy();
        });
        socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      });
    for (const [name] of composeReplicas) expect(await handshake(name), name).toBe('authorized');
    expect(await handshake('minio')).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it("passes the compose healthcheck (HTTPS /readyz verified against the stack's CA); plain HTTP gets nothing", async () => {
    const [cmd, node, flag, script] = replica.healthcheck.test;
    expect([cmd, node, flag]).toEqual(['CMD', 'node', '-e']);
    const local = substitute(
      substitute(script!, '/run/secrets/', `${runSecrets}/`),
      `:${replica.environment.MW_HTTP_PORT}/`,
      `:${composePorts.http}/`,
    );
    expect(await healthcheck(local)).toBe(0);
    expect(await get('http', { port: composePorts.http, path: '/readyz' })).not.toBe(200);
    // The same check fails against a port that does not answer it (the check can fail).
    expect(await healthcheck(substitute(local, `:${composePorts.http}/`, `:${composePorts.grpc}/`))).not.toBe(0);
  });

  it('binds 0.0.0.0 without the plaintext warnings, and created the bootstrap admin', () => {
    expect(replica.environment.MW_GRPC_HOST).toBe('0.0.0.0');
    expect(replica.environment.MW_HTTP_HOST).toBe('0.0.0.0');
    expect(composeCp.proc.stdout).toMatch(/auth\.bootstrap_admin\.ready/);
    expect(composeCp.proc.stdout).not.toMatch(/grpc\.plaintext|http\.plaintext/);
  });
});

describe('the image HEALTHCHECK (deploy/docker/control-plane.Dockerfile)', () => {
  const [, ...cmd] = JSON.parse(
    readDeploy('docker/control-plane.Dockerfile').match(/^HEALTHCHECK[\s\S]*?CMD (\[.+\])$/m)![1]!,
  ) as string[];
  const script = cmd[cmd.indexOf('-e') + 1]!;

  it('passes against the HTTPS port of a running control plane', async () => {
    expect(await healthcheck(script, { MW_HTTP_PORT: String(composePorts.http) })).toBe(0);
  });

  it('passes against a plain HTTP /readyz, and fails when it is not ready', async () => {
    let status = 200;
    const server: Server = createServer((req, res) => {
      res.writeHead(req.url === '/readyz' ? status : 404).end();
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    try {
      expect(await healthcheck(script, { MW_HTTP_PORT: String(port) })).toBe(0);
      status = 503;
      expect(await healthcheck(script, { MW_HTTP_PORT: String(port) })).not.toBe(0);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('the Kubernetes ConfigMap run with the files of its TLS Secret', () => {
  interface Probe {
    httpGet: { path: string; port: string; scheme: 'HTTPS' | 'HTTP' };
  }
  const deployment = yamlDocs(deployPath('kubernetes/base/deployment.yaml'))[0] as {
    spec: {
      template: {
        spec: {
          containers: (Record<'startupProbe' | 'livenessProbe' | 'readinessProbe', Probe> & {
            ports: { name: string }[];
          })[];
        };
      };
    };
  };
  const container = deployment.spec.template.spec.containers[0]!;
  const probes = (['startupProbe', 'livenessProbe', 'readinessProbe'] as const).map((k) => [k, container[k]] as const);

  it.each(probes)('answers the %s as the kubelet sends it (certificate not verified)', async (_, probe) => {
    // The probe names a container port; this pod's http port stands in for it.
    expect(container.ports.map((p) => p.name)).toContain(probe.httpGet.port);
    expect(probe.httpGet.port).toBe('http');
    const scheme = probe.httpGet.scheme.toLowerCase() as 'https' | 'http';
    const opts = { port: k8sPorts.http, path: probe.httpGet.path, rejectUnauthorized: false };
    expect(await get(scheme, opts)).toBe(200);
    expect(await get(scheme === 'https' ? 'http' : 'https', opts)).not.toBe(200);
  });

  it('serves mwctl over TLS trusting the ca.crt of the Secret (as through kubectl port-forward)', async () => {
    const res = await mwctl([
      '--server',
      `localhost:${k8sPorts.grpc}`,
      '--ca',
      join(k8sTls, 'ca.crt'),
      'sites',
      'ls',
      '--json',
    ]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(k8sCp.proc.stdout).not.toMatch(/grpc\.plaintext|http\.plaintext/);
  });
});
