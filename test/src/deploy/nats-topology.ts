import { execFile } from 'node:child_process';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findBinary } from '../harness/binaries.js';
import { freePort, ManagedProcess } from '../harness/index.js';
import { deployPath, readDeploy, substitute } from './support.js';

const exec = promisify(execFile);

export function natsServerBin(): string {
  return findBinary('nats-server', process.env.MW_NATS_SERVER, 'Install it with: apt-get install -y nats-server', [
    '/usr/sbin',
  ]);
}

/** `nats-server -t -c FILE`: parses the config (TLS files included) without starting. */
export async function checkConfig(file: string, env: Record<string, string>): Promise<string> {
  const { stdout, stderr } = await exec(natsServerBin(), ['-t', '-c', file], { env: { ...process.env, ...env } });
  return stdout + stderr;
}

export interface HubNodePorts {
  client: number;
  cluster: number;
  leaf: number;
  http: number;
}

export async function hubPorts(n: number): Promise<HubNodePorts[]> {
  const out: HubNodePorts[] = [];
  for (let i = 0; i < n; i++) {
    out.push({ client: await freePort(), cluster: await freePort(), leaf: await freePort(), http: await freePort() });
  }
  return out;
}

/**
 * Copies deploy/nats/hub into `dir/nats-N/` for each node, rewriting only what a single host
 * needs: ports (from `ports`), route host names, the TLS and store paths. Everything else runs as shipped.
 */
export async function materializeHub(
  dir: string,
  certDir: string,
  authDir: string,
  ports: HubNodePorts[],
): Promise<string[]> {
  const common = readDeploy('nats/hub/hub-common.conf');
  const files: string[] = [];
  for (const [i, p] of ports.entries()) {
    const nodeDir = join(dir, `nats-${i + 1}`);
    await mkdir(nodeDir, { recursive: true });
    let text = substitute(common, 'listen: 0.0.0.0:4222', `listen: 127.0.0.1:${p.client}`);
    text = substitute(text, 'http: 0.0.0.0:8222', `http: 127.0.0.1:${p.http}`);
    text = substitute(text, 'listen: 0.0.0.0:6222', `listen: 127.0.0.1:${p.cluster}`);
    text = substitute(text, 'listen: 0.0.0.0:7422', `listen: 127.0.0.1:${p.leaf}`);
    text = substitute(text, /nats-route:\/\/nats-(\d):6222/g, (_m, n) => {
      const peer = ports[Number(n) - 1];
      if (!peer) throw new Error(`route to nats-${n} but only ${ports.length} nodes`);
      return `nats-route://127.0.0.1:${peer.cluster}`;
    });
    text = substitute(text, '/etc/nats/tls/', `${certDir}/`);
    text = substitute(text, 'store_dir: "/var/lib/nats"', `store_dir: "${join(nodeDir, 'js')}"`);
    await writeFile(join(nodeDir, 'hub-common.conf'), text);
    await cp(authDir, join(nodeDir, 'auth'), { recursive: true });
    let auth = substitute(readDeploy('nats/hub/auth.conf'), '/etc/nats/auth/', `${join(nodeDir, 'auth')}/`);
    auth = substitute(auth, 'dir: "/var/lib/nats/jwt"', `dir: "${join(nodeDir, 'jwt')}"`);
    await writeFile(join(nodeDir, 'auth.conf'), auth);
    const main = join(nodeDir, `nats-${i + 1}.conf`);
    await cp(deployPath(`nats/hub/nats-${i + 1}.conf`), main);
    files.push(main);
  }
  return files;
}

/**
 * deploy/nats/plant/leaf.conf with the client port, monitoring port, hub address, TLS and auth
 * paths rewritten.
 */
export async function materializeLeaf(
  dir: string,
  certDir: string,
  authDir: string,
  clientPort: number,
  hubLeafPort: number,
): Promise<string> {
  let text = readDeploy('nats/plant/leaf.conf');
  text = substitute(text, 'listen: 0.0.0.0:4222', `listen: 127.0.0.1:${clientPort}`);
  text = substitute(text, 'http: 127.0.0.1:8222', `http: 127.0.0.1:${await freePort()}`);
  text = substitute(text, 'tls://nats.millwright.example:7422', `tls://127.0.0.1:${hubLeafPort}`);
  text = substitute(text, '/etc/nats/tls/', `${certDir}/`);
  text = substitute(text, '/etc/nats/auth/', `${join(dir, 'auth')}/`);
  await mkdir(dir, { recursive: true });
  await cp(authDir, join(dir, 'auth'), { recursive: true });
  const file = join(dir, 'leaf.conf');
  await writeFile(file, text);
  return file;
}

/** Starts nats-server from a config file and waits until it says it is ready. */
export async function startNats(name: string, file: string, env: Record<string, string>): Promise<ManagedProcess> {
  const proc = new ManagedProcess({
    name,
    command: natsServerBin(),
    args: ['-c', file],
    env: { ...process.env, ...env },
    logFile: `${file}.log`,
  });
  await proc.start();
  await proc.waitForOutput(/Server is ready/, 20_000);
  return proc;
}
