/** Test support: a private Mosquitto broker on a free loopback port. Never used in production. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A running broker; `stop`/`start` keep the same port so clients can reconnect. */
export interface Mosquitto {
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  dispose(): Promise<void>;
}

/** Starts `mosquitto` on a free port. @throws Error naming the missing binary and how to install it */
export async function launchMosquitto(): Promise<Mosquitto> {
  const bin = spawnSync('sh', ['-c', 'command -v mosquitto'], { encoding: 'utf8' }).stdout.trim();
  if (!bin)
    throw new Error(
      'mosquitto binary not found on PATH: install it (apt-get install -y mosquitto) to run the MQTT tests',
    );
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'mw-mosquitto-'));
  const conf = join(dir, 'mosquitto.conf');
  await writeFile(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  let proc: ChildProcess | undefined;
  const broker: Mosquitto = {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    async start() {
      const p = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
      proc = p;
      let stderr = '';
      p.stderr?.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      await waitForPort(port, p, () => stderr);
    },
    async stop() {
      const p = proc;
      proc = undefined;
      if (!p || p.exitCode !== null) return;
      const exited = new Promise((resolve) => p.once('exit', resolve));
      p.kill('SIGTERM');
      await exited;
    },
    async dispose() {
      await broker.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await broker.start();
  return broker;
}

/** Asks the OS for a free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, proc: ChildProcess, stderr: () => string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (proc.exitCode !== null) throw new Error(`mosquitto exited with ${proc.exitCode}: ${stderr()}`);
    if (await canConnect(port)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`mosquitto did not listen on ${port} within 5 s: ${stderr()}`);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
