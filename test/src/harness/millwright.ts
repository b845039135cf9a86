import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from './ports.js';
import { ManagedProcess } from './process.js';

const exec = promisify(execFile);

/** Repository root (test/src/harness -> ../../..; same depth from test/dist/harness). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export const BIN = {
  controlPlane: join(REPO_ROOT, 'control-plane/dist/main.js'),
  mwctl: join(REPO_ROOT, 'control-plane/dist/cli/main.js'),
  agent: join(REPO_ROOT, 'edge-agent/dist/main.js'),
} as const;

/**
 * Admin API token of every control plane the harness spawns (given as auth.bootstrapAdminTokenFile);
 * `mwctl()` sends it unless the caller sets MW_TOKEN. Random per test process.
 */
export const HARNESS_ADMIN_TOKEN = `mwt_harness_${randomBytes(24).toString('base64url')}`;

export interface ControlPlaneProcess {
  proc: ManagedProcess;
  /** Admin API token (HARNESS_ADMIN_TOKEN unless the caller configured auth itself). */
  adminToken: string;
  grpcAddr: string;
  httpUrl: string;
}

/** Runs the real `mw-control-plane` binary as a separate process and waits until it is ready. */
export async function spawnControlPlane(
  env: Record<string, string>,
  name = 'control-plane',
): Promise<ControlPlaneProcess> {
  const grpcPort = Number(env.MW_GRPC_PORT ?? (await freePort()));
  const httpPort = Number(env.MW_HTTP_PORT ?? (await freePort()));
  const dir = await mkdtemp(join(tmpdir(), `mw-${name}-`));
  const tokenFile = join(dir, 'admin-token');
  await writeFile(tokenFile, HARNESS_ADMIN_TOKEN, { mode: 0o600 });
  const proc = new ManagedProcess({
    name,
    command: process.execPath,
    args: [BIN.controlPlane],
    env: {
      ...baseEnv(),
      MW_GRPC_PORT: String(grpcPort),
      MW_HTTP_PORT: String(httpPort),
      MW_REPLICA_ID: name,
      MW_AUTH_BOOTSTRAP_ADMIN_TOKEN_FILE: tokenFile,
      ...env,
    },
    logFile: join(dir, 'log'),
  });
  await proc.start();
  await proc.waitForOutput(/control_plane\.ready/, 60_000);
  return {
    proc,
    adminToken: HARNESS_ADMIN_TOKEN,
    grpcAddr: `127.0.0.1:${grpcPort}`,
    httpUrl: `http://127.0.0.1:${httpPort}`,
  };
}

/** Runs the real `mw-agent` binary as a separate process and waits until it is ready. */
export async function spawnAgent(
  env: Record<string, string>,
  name = env.MW_AGENT_ID ?? 'agent',
): Promise<ManagedProcess> {
  const proc = await launchAgent(env, name);
  await proc.waitForOutput(/agent\.ready/, 60_000);
  return proc;
}

/**
 * Starts the real `mw-agent` binary without waiting for readiness, so a fault test can kill it in
 * the middle of its start (buffer recovery, model restore). Logs go to `<dataDir>/agent.log`.
 */
export async function launchAgent(
  env: Record<string, string>,
  name = env.MW_AGENT_ID ?? 'agent',
): Promise<ManagedProcess> {
  const dir = env.MW_DATA_DIR ?? (await mkdtemp(join(tmpdir(), `mw-${name}-`)));
  const proc = new ManagedProcess({
    name,
    command: process.execPath,
    args: [BIN.agent],
    env: { ...baseEnv(), MW_DATA_DIR: dir, MW_HTTP_PORT: '0', ...env },
    logFile: join(dir, 'agent.log'),
  });
  await proc.start();
  return proc;
}

export interface MwctlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real `mwctl` binary. */
export async function mwctl(args: string[], env: Record<string, string> = {}): Promise<MwctlResult> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN.mwctl, ...args], {
      env: { ...baseEnv(), MW_TOKEN: HARNESS_ADMIN_TOKEN, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** The environment without any MW_ variables of the developer's shell. */
function baseEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter(([k, v]) => !k.startsWith('MW_') && v !== undefined),
  ) as Record<string, string>;
}
