import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '@millwright/control-plane/config.js';
import { loadAgentConfig } from '@millwright/edge-agent/config.js';
import { describe, expect, it } from 'vitest';
import { accepts, deployPath, ENV, yamlDocs } from './support.js';

const exec = promisify(execFile);

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
    const replicas = byImage('millwright/control-plane').filter(([, s]) => s.command?.[0] === 'mw-control-plane');
    expect(replicas).toHaveLength(2);
    const ids = replicas.map(([, s]) => s.environment?.MW_REPLICA_ID);
    expect(new Set(ids).size).toBe(2);
    const hostPorts = replicas.flatMap(([, s]) => s.ports ?? []).map((p) => p.split(':')[0]);
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
      await copyFile(deployPath('compose/init-secrets.sh'), join(dir, 'init-secrets.sh'));
      await exec('bash', [join(dir, 'init-secrets.sh')]);
      const first = new Map<string, string>();
      for (const [, { file }] of Object.entries(compose.secrets)) {
        first.set(file, await readFile(join(dir, file), 'utf8'));
        expect(first.get(file)?.length, file).toBeGreaterThan(0);
      }
      expect(first.get('./secrets/database_url')).toContain(first.get('./secrets/postgres_password'));
      expect(first.get('./secrets/signing_key.pem')).toMatch(/BEGIN PRIVATE KEY/);
      expect((await stat(join(dir, 'secrets'))).mode & 0o777).toBe(0o700);
      await exec('bash', [join(dir, 'init-secrets.sh')]);
      for (const [file, value] of first) expect(await readFile(join(dir, file), 'utf8')).toBe(value);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect(existsSync(deployPath('compose/nats/nats.conf'))).toBe(true);
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

  it('checks each control-plane healthcheck against the port the replica listens on', () => {
    for (const [, s] of byImage('millwright/control-plane').filter(([n]) => n !== 'migrate')) {
      expect(s.healthcheck?.test.join(' ')).toContain(`127.0.0.1:${s.environment?.MW_HTTP_PORT}/readyz`);
    }
  });

  it('runs the Millwright containers read-only without capabilities', () => {
    for (const [, s] of byImage('millwright/')) {
      expect(s.read_only).toBe(true);
      expect(s.cap_drop).toEqual(['ALL']);
      expect(s.security_opt).toContain('no-new-privileges:true');
    }
  });
});
