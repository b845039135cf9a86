import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@millwright/control-plane/config.js';
import { loadAgentConfig } from '@millwright/edge-agent/config.js';
import { describe, expect, it } from 'vitest';
import { accepts, deployPath, ENV, makeCerts, openssl, runInitSecrets, yamlDocs } from './support.js';

/**
 * The part of the Compose Specification (compose-spec.io JSON schema) this file uses, checked
 * strictly: an unknown or misspelt key fails here as `docker compose config` would. No Docker
 * engine or compose plugin exists on these machines and the test package has no JSON-schema
 * validator, so this hand-written subset stands in for the published schema.
 */
interface Healthcheck {
  test: string[];
}
interface Service {
  image: string;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  secrets?: string[];
  volumes?: string[];
  ports?: string[];
  depends_on?: string[] | Record<string, { condition: string }>;
  healthcheck?: Healthcheck;
  read_only?: boolean;
  security_opt?: string[];
  cap_drop?: string[];
}
interface Compose {
  name: string;
  services: Record<string, Service>;
  secrets: Record<string, { file: string }>;
  volumes: Record<string, null>;
}

type Check = (v: unknown, at: string) => string[];
const isStr: Check = (v, at) => (typeof v === 'string' && v.length > 0 ? [] : [`${at}: not a non-empty string`]);
const isBool: Check = (v, at) => (typeof v === 'boolean' ? [] : [`${at}: not a boolean`]);
const isInt: Check = (v, at) => (Number.isInteger(v) ? [] : [`${at}: not an integer`]);
const isNull: Check = (v, at) => (v === null ? [] : [`${at}: must be empty`]);
const oneOf =
  (...values: string[]): Check =>
  (v, at) =>
    values.includes(v as string) ? [] : [`${at}: ${String(v)} not one of ${values.join(', ')}`];
const arrayOf =
  (item: Check): Check =>
  (v, at) =>
    Array.isArray(v) ? v.flatMap((x, i) => item(x, `${at}[${i}]`)) : [`${at}: not a list`];
const mapOf =
  (item: Check): Check =>
  (v, at) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.entries(v).flatMap(([k, x]) => item(x, `${at}.${k}`))
      : [`${at}: not a map`];
const object =
  (shape: Record<string, Check>, required: string[] = []): Check =>
  (v, at) => {
    if (!v || typeof v !== 'object' || Array.isArray(v)) return [`${at}: not a map`];
    const o = v as Record<string, unknown>;
    return [
      ...required.filter((k) => !(k in o)).map((k) => `${at}.${k}: missing`),
      ...Object.entries(o).flatMap(([k, x]) => (shape[k] ? shape[k](x, `${at}.${k}`) : [`${at}.${k}: unknown key`])),
    ];
  };
const either =
  (a: Check, b: Check): Check =>
  (v, at) => {
    const ea = a(v, at);
    return ea.length === 0 ? [] : b(v, at).length === 0 ? [] : ea;
  };
const duration: Check = (v, at) =>
  typeof v === 'string' && /^\d+(ms|s|m|h)$/.test(v) ? [] : [`${at}: not a duration`];

const ServiceCheck = object(
  {
    image: isStr,
    command: arrayOf(isStr),
    entrypoint: arrayOf(isStr),
    environment: mapOf(isStr),
    secrets: arrayOf(isStr),
    volumes: arrayOf(isStr),
    ports: arrayOf((v, at) => (typeof v === 'string' && /^\d+:\d+$/.test(v) ? [] : [`${at}: not HOST:CONTAINER`])),
    depends_on: either(
      arrayOf(isStr),
      mapOf(
        object({ condition: oneOf('service_started', 'service_healthy', 'service_completed_successfully') }, [
          'condition',
        ]),
      ),
    ),
    healthcheck: object(
      { test: arrayOf(isStr), interval: duration, timeout: duration, start_period: duration, retries: isInt },
      ['test'],
    ),
    restart: oneOf('no', 'always', 'on-failure', 'unless-stopped'),
    read_only: isBool,
    security_opt: arrayOf(isStr),
    cap_drop: arrayOf(isStr),
    tmpfs: arrayOf(isStr),
    stop_grace_period: duration,
  },
  ['image'],
);
const ComposeCheck: Check = (v, at) => {
  const o = (v ?? {}) as Record<string, unknown>;
  const top = Object.fromEntries(
    Object.keys(o)
      .filter((k) => k.startsWith('x-'))
      .map((k) => [k, () => []]),
  );
  return object(
    {
      ...top,
      name: isStr,
      services: mapOf(ServiceCheck),
      secrets: mapOf(object({ file: isStr }, ['file'])),
      volumes: mapOf(isNull),
    },
    ['name', 'services'],
  )(v, at);
};

const raw = yamlDocs(deployPath('compose/compose.yaml'))[0];
const compose = raw as Compose;
const services = Object.entries(compose.services);
const byImage = (fragment: string) => services.filter(([, s]) => s.image.includes(fragment));
/** The services that run the control-plane server (not the migration job). */
const replicas = () =>
  byImage('millwright/control-plane').filter(([, s]) => s.command?.[0] === 'mw-control-plane') as [string, Service][];

/** What a secret file holds in the running stack, for loading configs the way the binaries do. */
const SECRET_VALUES: Record<string, string> = {
  '/run/secrets/database_url': 'postgres://millwright:pw@postgres:5432/millwright',
  '/run/secrets/s3_access_key_id': 'millwright',
  '/run/secrets/s3_secret_access_key': 'secret',
};
const readSecret = (p: string) => {
  const v = SECRET_VALUES[p];
  if (v === undefined) throw new Error(`no such secret ${p}`);
  return v;
};

describe('deploy/compose/compose.yaml', () => {
  it('parses and matches the Compose subset schema', () => {
    expect(ComposeCheck(raw, 'compose')).toEqual([]);
    expect(Object.keys(compose.services).length).toBeGreaterThanOrEqual(9);
  });

  it('the schema check catches a misspelt key', () => {
    const broken = structuredClone(raw) as { services: Record<string, Record<string, unknown>> };
    broken.services.nats!.helthcheck = broken.services.nats!.healthcheck;
    expect(ComposeCheck(broken, 'compose')).toEqual(['compose.services.nats.helthcheck: unknown key']);
  });

  it('runs NATS with JetStream from the mounted config, PostgreSQL, MinIO and a bucket job', () => {
    const nats = compose.services.nats!;
    expect(nats.command).toEqual(['-c', '/etc/nats/nats.conf']);
    expect(nats.volumes).toContain('./nats/nats.conf:/etc/nats/nats.conf:ro');
    expect(nats.healthcheck?.test.join(' ')).toContain('js-enabled-only=true');
    expect(compose.services.postgres?.image).toMatch(/^postgres:/);
    expect(compose.services.minio?.image).toMatch(/^minio\/minio:/);
    expect(compose.services['create-bucket']?.command?.join('\n')).toMatch(/mc mb --ignore-existing local\/millwright/);
  });

  it('pins every image to a tag, never latest', () => {
    for (const [, s] of services) expect(s.image).toMatch(/:(?!latest$)[\w.-]+$/);
  });

  it('runs the migration job with `mwctl migrate` before the replicas start', () => {
    const migrate = compose.services.migrate!;
    expect(migrate.command?.join(' ')).toMatch(/\bexec mwctl migrate\b/);
    expect(migrate.depends_on).toMatchObject({ postgres: { condition: 'service_healthy' } });
    for (const [, s] of byImage('control-plane').filter(([n]) => n !== 'migrate')) {
      expect(s.depends_on).toMatchObject({ migrate: { condition: 'service_completed_successfully' } });
    }
  });

  it('runs two control-plane replicas with distinct ids and host ports', () => {
    expect(replicas()).toHaveLength(2);
    const ids = replicas().map(([, s]) => s.environment?.MW_REPLICA_ID);
    expect(new Set(ids).size).toBe(2);
    const hostPorts = replicas()
      .flatMap(([, s]) => s.ports ?? [])
      .map((p) => p.split(':')[0]);
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
  });

  it('runs two agents with distinct ids, each with its own data volume', () => {
    const agents = byImage('millwright/agent');
    expect(agents).toHaveLength(2);
    expect(new Set(agents.map(([, s]) => s.environment?.MW_AGENT_ID)).size).toBe(2);
    for (const [, s] of agents) expect(s.volumes?.some((v) => v.endsWith(':/var/lib/millwright'))).toBe(true);
  });

  it('passes secrets as files (*_FILE) and declares every secret it mounts', () => {
    for (const [, s] of services) {
      for (const [k, v] of Object.entries(s.environment ?? {})) {
        if (/PASSWORD|SECRET|DATABASE_URL/.test(k)) expect(k, `${k} should be a _FILE variable`).toMatch(/_FILE$/);
        if (k.endsWith('_FILE')) expect(v).toMatch(/^\/run\/secrets\//);
      }
      for (const name of s.secrets ?? []) expect(compose.secrets[name], `secret ${name}`).toBeDefined();
    }
  });

  it('mounts only secret files init-secrets.sh creates, and a second run keeps them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mw-compose-secrets-'));
    try {
      await runInitSecrets(dir);
      const first = new Map<string, string>();
      for (const [, { file }] of Object.entries(compose.secrets)) {
        first.set(file, await readFile(join(dir, file), 'utf8'));
        expect(first.get(file)?.length, file).toBeGreaterThan(0);
      }
      expect(first.get('./secrets/database_url')).toContain(first.get('./secrets/postgres_password'));
      expect(first.get('./secrets/signing_key.pem')).toMatch(/BEGIN PRIVATE KEY/);
      expect((await stat(join(dir, 'secrets'))).mode & 0o777).toBe(0o700);
      await runInitSecrets(dir);
      for (const [file, value] of first) expect(await readFile(join(dir, file), 'utf8')).toBe(value);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect(existsSync(deployPath('compose/nats/nats.conf'))).toBe(true);
  });

  it('init-secrets.sh issues a CA and a server certificate that verify for every replica name, localhost and loopback', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mw-compose-tls-'));
    try {
      const secrets = await runInitSecrets(dir);
      const ca = join(secrets, 'ca.pem');
      const cert = join(secrets, 'control-plane.pem');
      const verify = (...args: string[]) => openssl('verify', '-CAfile', ca, '-purpose', 'sslserver', ...args, cert);
      for (const [name] of replicas()) await expect(verify('-verify_hostname', name)).resolves.toMatch(/: OK/);
      await expect(verify('-verify_hostname', 'localhost')).resolves.toMatch(/: OK/);
      await expect(verify('-verify_ip', '127.0.0.1')).resolves.toMatch(/: OK/);
      await expect(verify('-verify_ip', '::1')).resolves.toMatch(/: OK/);
      // The check can fail: another service's name is not on the certificate.
      await expect(verify('-verify_hostname', 'nats')).rejects.toThrow(/hostname mismatch/);
      // The key is the certificate's, the CA is a CA, and its key stays private.
      const pub = await openssl('pkey', '-pubout', '-in', join(secrets, 'control-plane-key.pem'));
      expect(await openssl('x509', '-pubkey', '-noout', '-in', cert)).toBe(pub);
      expect(await openssl('x509', '-noout', '-ext', 'basicConstraints', '-in', ca)).toMatch(/CA:TRUE/);
      expect((await stat(join(secrets, 'ca-key.pem'))).mode & 0o777).toBe(0o600);
      expect(await readFile(join(secrets, 'admin_token'), 'utf8')).toMatch(/^mwt_[A-Za-z0-9_-]{43}$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('init-secrets.sh adds EXTRA_SANS, and reissues a certificate that expires soon or that another CA signed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mw-compose-tls-'));
    try {
      const secrets = await runInitSecrets(dir, { EXTRA_SANS: 'DNS:millwright.example.com,IP:10.0.0.5' });
      const ca = join(secrets, 'ca.pem');
      const cert = join(secrets, 'control-plane.pem');
      const verify = (...args: string[]) => openssl('verify', '-CAfile', ca, ...args, cert);
      await expect(verify('-verify_hostname', 'millwright.example.com')).resolves.toMatch(/: OK/);
      await expect(verify('-verify_ip', '10.0.0.5')).resolves.toMatch(/: OK/);
      const caBefore = await readFile(ca, 'utf8');
      const serial = () => openssl('x509', '-noout', '-serial', '-in', cert);

      // A certificate of our CA valid for one more day: renewed on the next run.
      const csr = join(dir, 'short.csr');
      await openssl('req', '-new', '-key', join(secrets, 'control-plane-key.pem'), '-subj', '/CN=short', '-out', csr);
      await openssl(
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        ca,
        '-CAkey',
        join(secrets, 'ca-key.pem'),
        '-set_serial',
        '7',
        '-days',
        '1',
        '-out',
        cert,
      );
      expect(await serial()).toMatch(/serial=07/);
      await runInitSecrets(dir);
      expect(await serial()).not.toMatch(/serial=07/);
      await expect(openssl('x509', '-checkend', String(60 * 24 * 3600), '-noout', '-in', cert)).resolves.toBeDefined();
      await expect(verify('-verify_hostname', 'control-plane-1')).resolves.toMatch(/: OK/);

      // A certificate from some other CA: replaced by one of ours; the CA itself is kept.
      const other = await makeCerts(await mkdtemp(join(dir, 'other-')));
      await writeFile(cert, await readFile(join(other.dir, 'server.pem')));
      await expect(verify()).rejects.toThrow(/unable to get local issuer certificate/);
      await runInitSecrets(dir);
      await expect(verify('-verify_hostname', 'control-plane-2')).resolves.toMatch(/: OK/);
      expect(await readFile(ca, 'utf8')).toBe(caBefore);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('gives each control-plane container an environment the real config loader accepts', () => {
    for (const [name, s] of byImage('millwright/control-plane').filter(([n]) => n !== 'migrate')) {
      const env = s.environment ?? {};
      expect(
        Object.keys(env).filter((k) => !accepts(ENV.controlPlane, k)),
        name,
      ).toEqual([]);
      const cfg = loadConfig({ env, readFile: readSecret });
      expect(cfg.database.url).toBe(SECRET_VALUES['/run/secrets/database_url']);
      expect(cfg.database.migrate).toBe(false);
      expect(cfg.s3.forcePathStyle).toBe(true);
      expect(cfg.grpc.host).toBe('0.0.0.0');
      expect(cfg.http.port).toBe(8080);
    }
  });

  it('serves gRPC and HTTP over TLS on every replica, with certificate files from mounted secrets', () => {
    expect(replicas().length).toBeGreaterThan(0);
    for (const [name, s] of replicas()) {
      const cfg = loadConfig({ env: s.environment ?? {}, readFile: readSecret });
      const files = [cfg.grpc.tls.certFile, cfg.grpc.tls.keyFile, cfg.http.tls.certFile, cfg.http.tls.keyFile];
      for (const f of files) {
        expect(f, `${name}: a TLS file is not set`).toMatch(/^\/run\/secrets\/\w+$/);
        expect(s.secrets, `${name}: ${f} is not a mounted secret`).toContain(f?.slice('/run/secrets/'.length));
      }
      expect(cfg.auth.disabled).toBe(false);
      expect(s.secrets).toContain(cfg.auth.bootstrapAdminTokenFile?.slice('/run/secrets/'.length));
    }
  });

  it('names only mounted secrets in every *_FILE variable', () => {
    for (const [name, s] of services) {
      for (const [k, v] of Object.entries(s.environment ?? {}).filter(([k]) => k.endsWith('_FILE'))) {
        expect(s.secrets ?? [], `${name}: ${k}=${v}`).toContain(v.slice('/run/secrets/'.length));
      }
    }
  });

  it('gives each agent container an environment the real agent config loader accepts', () => {
    for (const [name, s] of byImage('millwright/agent')) {
      const env = s.environment ?? {};
      expect(
        Object.keys(env).filter((k) => !accepts(ENV.agent, k)),
        name,
      ).toEqual([]);
      const cfg = loadAgentConfig({ env });
      expect(cfg.labels.machine_type).toBe('press');
      expect(cfg.http.port).toBe(9100);
    }
  });

  it('checks each control-plane healthcheck over HTTPS against its port, trusting a mounted CA', () => {
    for (const [, s] of replicas()) {
      const test = s.healthcheck?.test.join(' ') ?? '';
      expect(test).toContain(`https://127.0.0.1:${s.environment?.MW_HTTP_PORT}/readyz`);
      const ca = test.match(/readFileSync\('\/run\/secrets\/(\w+)'\)/)?.[1];
      expect(s.secrets).toContain(ca);
      expect(compose.secrets[ca!]?.file).toBe('./secrets/ca.pem');
    }
  });

  it('gives mwctl examples that use TLS (--ca) with a server name the certificate carries', () => {
    const header = readFileSync(deployPath('compose/compose.yaml'), 'utf8').split('\n');
    const examples = header.filter((l) => /^#.*\bmwctl (?!migrate)/.test(l));
    expect(examples.length).toBeGreaterThanOrEqual(2);
    for (const line of examples) expect(line, line).toMatch(/ --ca \S+/);
    // Inside the network: `docker compose run --rm <replica> ... --ca /run/secrets/X --server <replica>:<grpc port>`.
    const inside = examples.find((l) => l.includes('run --rm'))!;
    const svc = compose.services[inside.match(/run --rm (\S+)/)![1]!]!;
    expect(svc.secrets).toContain(inside.match(/--ca \/run\/secrets\/(\w+)/)?.[1]);
    expect(svc.secrets).toContain(inside.match(/--token-file \/run\/secrets\/(\w+)/)?.[1]);
    const [host, port] = inside.match(/--server (\S+)/)![1]!.split(':');
    expect(replicas().map(([n]) => n)).toContain(host);
    expect(port).toBe(svc.environment?.MW_GRPC_PORT);
    // From the host: the CA file of the tls_ca secret and a published gRPC port.
    const outside = examples.find((l) => l.includes('deploy/compose/secrets/'))!;
    const caFile = outside.match(/--ca deploy\/compose\/(\S+)/)![1];
    expect(Object.values(compose.secrets).map((x) => x.file)).toContain(`./${caFile}`);
    const hostPort = outside.match(/--server localhost:(\d+)/)![1];
    const published = replicas().flatMap(([, s]) => s.ports ?? []);
    expect(published).toContain(`${hostPort}:${svc.environment?.MW_GRPC_PORT}`);
  });

  it('runs the Millwright containers read-only without capabilities', () => {
    for (const [, s] of byImage('millwright/')) {
      expect(s.read_only).toBe(true);
      expect(s.cap_drop).toEqual(['ALL']);
      expect(s.security_opt).toContain('no-new-privileges:true');
    }
  });
});
