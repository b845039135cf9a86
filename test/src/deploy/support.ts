import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { ConfigSchema } from '@millwright/control-plane/config.js';
import { envName, envVarNames } from '@millwright/control-plane/config-loader.js';
import { AgentConfigSchema } from '@millwright/edge-agent/config.js';
import { REPO_ROOT } from '../harness/index.js';

/** Where the deployment material lives. */
export const DEPLOY = join(REPO_ROOT, 'deploy');

export function deployPath(...parts: string[]): string {
  return join(DEPLOY, ...parts);
}

export function readDeploy(...parts: string[]): string {
  return readFileSync(deployPath(...parts), 'utf8');
}

/** Every file under deploy/ (relative to it), for checks that must cover all of them. */
export function deployFiles(dir = DEPLOY): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? deployFiles(p) : [relative(DEPLOY, p)];
  });
}

interface YamlDocument {
  errors: { message: string }[];
  toJS(): unknown;
}

/**
 * The workspace's `yaml` package, borrowed from the control plane (which depends on it): the test
 * package does not list it and its package.json is not this suite's to change.
 */
const yaml = createRequire(join(REPO_ROOT, 'control-plane/package.json'))('yaml') as {
  parseAllDocuments(text: string, opts?: { merge?: boolean }): YamlDocument[];
  parse(text: string): unknown;
};

/** One YAML document from text (e.g. a config file embedded in a ConfigMap). */
export function parseYaml(text: string): unknown {
  return yaml.parse(text);
}

/** All YAML documents of a file; throws on the first syntax error, naming the file. */
export function yamlDocs(path: string): unknown[] {
  // merge: compose files use `<<: *anchor` (YAML 1.1 merge keys), as docker compose does.
  const docs = yaml.parseAllDocuments(readFileSync(path, 'utf8'), { merge: true });
  return docs.map((d) => {
    if (d.errors.length > 0) throw new Error(`${path}: ${d.errors.map((e) => e.message).join('; ')}`);
    return d.toJS() as unknown;
  });
}

/** The `MW_` variables each binary accepts, straight from the zod schemas the binaries load. */
export const ENV = {
  controlPlane: new Set(envVarNames(ConfigSchema)),
  agent: new Set(envVarNames(AgentConfigSchema)),
  /**
   * Read by mwctl itself (control-plane/src/cli/main.ts, transport.ts), outside the server's schema;
   * references.test.ts checks that the CLI's sources read each of them.
   */
  mwctl: new Set([
    'MW_SERVER',
    'MW_TOKEN',
    'MW_DATABASE_URL',
    'MW_CA_FILE',
    'MW_TLS',
    'MW_CERT_FILE',
    'MW_KEY_FILE',
    'MW_ALLOW_PLAINTEXT',
  ]),
  /** Read by both binaries' main.ts before the schema: the YAML file path. */
  common: new Set(['MW_CONFIG_FILE']),
} as const;

/** True when `name` (or `name` minus a `_FILE` suffix) is accepted by the schema's variables. */
export function accepts(vars: Set<string>, name: string): boolean {
  if (ENV.common.has(name) || vars.has(name)) return true;
  return name.endsWith('_FILE') && vars.has(name.slice(0, -'_FILE'.length));
}

/**
 * Key paths of a YAML config that its binary's schema does not know. The loaders drop unknown keys
 * silently (zod strips them), so a misspelt `grpc.tsl.certFile` would load as "no TLS"; this walks
 * the document and names every path that is neither a schema leaf nor leads to one.
 */
export function unknownConfigKeys(vars: Set<string>, doc: unknown, path: string[] = []): string[] {
  if (path.length > 0 && vars.has(envName(path))) return [];
  if (doc && typeof doc === 'object' && !Array.isArray(doc)) {
    return Object.entries(doc).flatMap(([k, v]) => unknownConfigKeys(vars, v, [...path, k]));
  }
  return [path.join('.')];
}

/** Finds an executable on PATH or in /usr/sbin, or undefined. */
export function which(name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/bin']) {
    const p = join(dir, name);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

export interface Certs {
  dir: string;
  ca: string;
}

/**
 * A throwaway CA and one server certificate (serverAuth + clientAuth, SANs for loopback) in `dir`,
 * named as the NATS configs expect: ca.pem, server.pem, server-key.pem.
 */
export async function makeCerts(dir: string): Promise<Certs> {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run('req', '-x509', ...ec, '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=mw-test-ca');
  run('req', '-new', ...ec, '-keyout', 'server-key.pem', '-out', 'server.csr', '-subj', '/CN=nats');
  await writeFile(
    join(dir, 'ext.cnf'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n',
  );
  run(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca-key.pem',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
  );
  return { dir, ca: join(dir, 'ca.pem') };
}

/**
 * Replaces every occurrence of `from` and fails when there is none, so a config that drifted from
 * what a test rewrites breaks the test instead of silently running something else.
 */
export function substitute(
  text: string,
  from: string | RegExp,
  to: string | ((m: string, ...g: string[]) => string),
): string {
  const re = typeof from === 'string' ? new RegExp(from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'g') : from;
  if (!re.global) throw new Error(`pattern ${re} must be global`);
  if (!new RegExp(re.source, re.flags).test(text)) throw new Error(`pattern ${re} not found in the config`);
  return text.replace(re, to as (m: string, ...g: string[]) => string);
}

const execFileAsync = promisify(execFile);

/** Runs the openssl CLI; rejects (with its stderr) when it exits non-zero. */
export async function openssl(...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('openssl', args, { encoding: 'utf8' });
  return stdout;
}

/**
 * Runs a copy of deploy/compose/init-secrets.sh in `dir` (as `bash deploy/compose/init-secrets.sh`
 * would in the repository) and returns the secrets directory it wrote.
 */
export async function runInitSecrets(dir: string, env: Record<string, string> = {}): Promise<string> {
  await mkdir(dir, { recursive: true });
  await copyFile(deployPath('compose/init-secrets.sh'), join(dir, 'init-secrets.sh'));
  await execFileAsync('bash', [join(dir, 'init-secrets.sh')], { env: { ...process.env, ...env } });
  return join(dir, 'secrets');
}
