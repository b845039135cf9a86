import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { findBinary, postgresBinDirs } from './binaries.js';
import { freePort } from './ports.js';
import { ManagedProcess } from './process.js';

const run = promisify(execFile);
const HINT = 'Install it with: apt-get install -y postgresql (or set MW_TEST_PG_URL to an existing server).';

export interface PostgresServerOptions {
  /** Use an existing server (a superuser URL) instead of starting a throwaway cluster. */
  url?: string;
  /** Data directory for a persistent cluster (the demo); default a fresh temp dir. */
  dataDir?: string;
  port?: number;
}

/**
 * A real PostgreSQL for tests: a throwaway cluster (initdb + postgres on a free port, fsync off)
 * unless a URL is given. Each suite asks for its own fresh database.
 */
export class PostgresServer {
  private dbCounter = 0;

  private constructor(
    readonly adminUrl: string,
    readonly proc: ManagedProcess | undefined,
    private readonly workDir: string | undefined,
    readonly port: number,
  ) {}

  static async start(opts: PostgresServerOptions = {}): Promise<PostgresServer> {
    const url = opts.url ?? process.env.MW_TEST_PG_URL;
    if (url) return new PostgresServer(url, undefined, undefined, Number(new URL(url).port || 5432));
    const dirs = postgresBinDirs();
    const initdb = findBinary('initdb', undefined, HINT, dirs);
    const postgresBin = findBinary('postgres', undefined, HINT, dirs);
    const workDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'mw-pg-')));
    const dataDir = join(workDir, 'data');
    // fsync=off is safe for process kills (the OS keeps the pages); commits stay synchronous so kill -9 loses nothing.
    // PostgreSQL refuses to run as root: run it as the `postgres` OS user that Debian's package creates.
    const owner = userInfo().uid === 0 ? await postgresUser() : undefined;
    if (owner) await chown(workDir, owner.uid, owner.gid);
    if (!existsSync(join(dataDir, 'PG_VERSION'))) {
      const initArgs = ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale', 'C'];
      await run(initdb, initArgs, owner ?? {});
    }
    const port = opts.port ?? (await freePort());
    const settings = ['listen_addresses=127.0.0.1', 'fsync=off', 'full_page_writes=off', 'max_connections=300'];
    const pgArgs = ['-D', dataDir, '-p', String(port), '-k', workDir, ...settings.flatMap((s) => ['-c', s])];
    const logFile = join(workDir, 'postgres.log');
    const proc = new ManagedProcess({ name: 'postgres', command: postgresBin, args: pgArgs, logFile, ...owner });
    await proc.start();
    await proc.waitForOutput(/ready to accept connections/, 30_000);
    return new PostgresServer(
      `postgres://postgres@127.0.0.1:${port}/postgres`,
      proc,
      opts.dataDir ? undefined : workDir,
      port,
    );
  }

  /** Creates a fresh, empty database and returns its URL. */
  async createDatabase(prefix = 'mw'): Promise<string> {
    const name = `${prefix}_${process.pid}_${++this.dbCounter}_${Date.now().toString(36)}`;
    const sql = postgres(this.adminUrl, { max: 1, onnotice: () => {} });
    try {
      await sql.unsafe(`CREATE DATABASE "${name}"`);
    } finally {
      await sql.end();
    }
    const u = new URL(this.adminUrl);
    u.pathname = `/${name}`;
    return u.toString();
  }

  async kill(): Promise<void> {
    await this.proc?.kill();
  }

  async restart(): Promise<void> {
    if (!this.proc) throw new Error('cannot restart an external PostgreSQL');
    if (this.proc.running) await this.proc.stop();
    await this.proc.start();
    await this.proc.waitForOutput(/ready to accept connections/, 30_000);
  }

  pause(): void {
    this.proc?.pause();
  }

  resume(): void {
    this.proc?.resume();
  }

  async dispose(): Promise<void> {
    if (this.proc) await this.proc.stop(5_000).catch(() => this.proc?.kill());
    if (this.workDir) await rm(this.workDir, { recursive: true, force: true });
  }
}

async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const { stdout } = await run('id', ['-u', 'postgres']).catch(() => {
    throw new Error(`OS user 'postgres' is missing (needed to run PostgreSQL as root). ${HINT}`);
  });
  const { stdout: gid } = await run('id', ['-g', 'postgres']);
  return { uid: Number(stdout.trim()), gid: Number(gid.trim()) };
}
