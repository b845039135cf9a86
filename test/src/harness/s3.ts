import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { ManagedProcess } from './process.js';

const require = createRequire(import.meta.url);

export interface S3ServerOptions {
  /** Buckets created at start. */
  buckets?: string[];
  directory?: string;
  port?: number;
}

/** Connection settings for an S3-compatible store (what the control plane's config takes). */
export interface S3Endpoint {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: true;
}

/** s3rver, an S3-compatible server, in its own process so fault tests can kill and restart it. */
export class S3Server {
  private constructor(
    readonly proc: ManagedProcess,
    readonly port: number,
    private readonly workDir: string | undefined,
  ) {}

  static async start(opts: S3ServerOptions = {}): Promise<S3Server> {
    const dir = opts.directory ?? (await mkdtemp(join(tmpdir(), 'mw-s3-')));
    const port = opts.port ?? (await freePort());
    const cli = join(require.resolve('s3rver/package.json'), '..', 'bin', 's3rver.js');
    const args = [cli, '-d', join(dir, 'data'), '-a', '127.0.0.1', '-p', String(port), '--no-vhost-buckets'];
    for (const b of opts.buckets ?? []) args.push('--configure-bucket', b);
    const proc = new ManagedProcess({
      name: 's3rver',
      command: process.execPath,
      args,
      logFile: join(dir, 's3rver.log'),
    });
    await proc.start();
    await proc.waitForOutput(/listening on/i, 20_000);
    return new S3Server(proc, port, opts.directory ? undefined : dir);
  }

  get endpoint(): S3Endpoint {
    // s3rver accepts any well-formed credentials; these are its documented defaults.
    return {
      endpoint: `http://127.0.0.1:${this.port}`,
      region: 'us-east-1',
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
      forcePathStyle: true,
    };
  }

  async kill(): Promise<void> {
    await this.proc.kill();
  }

  async restart(): Promise<void> {
    if (this.proc.running) await this.proc.stop();
    await this.proc.start();
    await this.proc.waitForOutput(/listening on/i, 20_000);
  }

  async dispose(): Promise<void> {
    await this.proc.stop(5_000).catch(() => this.proc.kill());
    if (this.workDir) await rm(this.workDir, { recursive: true, force: true });
  }
}
