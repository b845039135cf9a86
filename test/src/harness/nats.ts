import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary } from './binaries.js';
import { ManagedProcess, waitFor } from './process.js';

export interface NatsServerOptions {
  /** Extra config file content (auth, accounts, TLS); port and store dir are set by the harness. */
  config?: string;
  /** Reuse a fixed port (restarts keep it). Default: the server picks one. */
  port?: number;
  /** JetStream store directory; default a fresh temp dir. */
  storeDir?: string;
  /** Where logs go; default inside the temp dir. */
  workDir?: string;
  /** TLS on the client port (then `url` is `tls://…`). */
  tls?: NatsTlsOptions;
}

/** PEM files of the server's TLS; with `verify`, clients must present a certificate signed by `caFile`. */
export interface NatsTlsOptions {
  certFile: string;
  keyFile: string;
  caFile?: string;
  verify?: boolean;
}

/** A real nats-server with JetStream on 127.0.0.1 for tests, the demo and benchmarks. */
export class NatsServer {
  private constructor(
    readonly proc: ManagedProcess,
    readonly port: number,
    readonly storeDir: string,
    readonly workDir: string,
    private readonly ownsWorkDir: boolean,
    readonly tls: boolean = false,
  ) {}

  get url(): string {
    return `${this.tls ? 'tls' : 'nats'}://127.0.0.1:${this.port}`;
  }

  static async start(opts: NatsServerOptions = {}): Promise<NatsServer> {
    const bin = findBinary(
      'nats-server',
      process.env.MW_NATS_SERVER,
      'Install it with: apt-get install -y nats-server',
    );
    const workDir = opts.workDir ?? (await mkdtemp(join(tmpdir(), 'mw-nats-')));
    const storeDir = opts.storeDir ?? join(workDir, 'js');
    const confPath = join(workDir, 'nats.conf');
    await writeFile(confPath, `${opts.config ?? ''}\n${tlsBlock(opts.tls)}jetstream { store_dir: "${storeDir}" }\n`);
    const args = ['-c', confPath, '-a', '127.0.0.1', '-p', String(opts.port ?? -1), '--ports_file_dir', workDir];
    const proc = new ManagedProcess({ name: 'nats-server', command: bin, args, logFile: join(workDir, 'nats.log') });
    await proc.start();
    await proc.waitForOutput(/Server is ready/);
    const port = opts.port ?? (await readPort(workDir, proc.pid!));
    return new NatsServer(proc, port, storeDir, workDir, opts.workDir === undefined, opts.tls !== undefined);
  }

  /** Graceful stop. */
  async stop(): Promise<void> {
    await this.proc.stop();
  }

  /** kill -9. */
  async kill(): Promise<void> {
    await this.proc.kill();
  }

  /** Starts again on the same port with the same store (after stop or kill). */
  async restart(): Promise<void> {
    if (this.proc.running) await this.proc.stop();
    this.proc.opts.args = this.proc.opts.args.map((a, i, all) => (all[i - 1] === '-p' ? String(this.port) : a));
    await this.proc.start();
    await this.proc.waitForOutput(/Server is ready/);
  }

  /** Deletes the JetStream store (only while stopped): simulates a broker that lost acknowledged data. */
  async wipeStore(): Promise<void> {
    if (this.proc.running) throw new Error('wipeStore needs a stopped server');
    await rm(this.storeDir, { recursive: true, force: true });
  }

  pause(): void {
    this.proc.pause();
  }

  resume(): void {
    this.proc.resume();
  }

  async dispose(): Promise<void> {
    await this.proc.stop().catch(() => this.proc.kill());
    if (this.ownsWorkDir) await rm(this.workDir, { recursive: true, force: true });
  }
}

function tlsBlock(tls: NatsTlsOptions | undefined): string {
  if (!tls) return '';
  const lines = [`cert_file: ${JSON.stringify(tls.certFile)}`, `key_file: ${JSON.stringify(tls.keyFile)}`];
  if (tls.caFile) lines.push(`ca_file: ${JSON.stringify(tls.caFile)}`);
  if (tls.verify) lines.push('verify: true');
  return `tls {\n  ${lines.join('\n  ')}\n}\n`;
}

async function readPort(dir: string, pid: number): Promise<number> {
  const file = await waitFor('nats ports file', async () => {
    const names = await readdir(dir);
    return names.find((n) => n.endsWith(`_${pid}.ports`));
  });
  const ports = JSON.parse(await readFile(join(dir, file), 'utf8')) as { nats: string[] };
  const url = ports.nats[0];
  if (!url) throw new Error('nats ports file lists no client URL');
  return Number(new URL(url).port);
}
