import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface ProcessOptions {
  /** Shown in errors and log file names. */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdout+stderr are appended here, so a failing test can show what the process said. */
  logFile: string;
  /** Run as this OS user (PostgreSQL refuses root). */
  uid?: number;
  gid?: number;
}

/**
 * A child process under test control: start, wait for output, signal (kill -9, SIGSTOP/SIGCONT),
 * and restart with the same command. Output is kept in memory (bounded) and in a log file.
 */
export class ManagedProcess {
  private child: ChildProcess | undefined;
  private output = '';
  private log: WriteStream | undefined;
  private exitWaiters: Array<(code: number | null) => void> = [];
  exitCode: number | null | undefined;

  constructor(readonly opts: ProcessOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.exitCode === undefined;
  }

  async start(): Promise<this> {
    await mkdir(dirname(this.opts.logFile), { recursive: true });
    this.log = createWriteStream(this.opts.logFile, { flags: 'a' });
    // A full disk (the ENOSPC fault test keeps logs on the filesystem it fills) must not crash the
    // test runner; the in-memory output still holds what the process said.
    this.log.on('error', () => {});
    this.output = '';
    this.exitCode = undefined;
    const child = spawn(this.opts.command, this.opts.args, {
      env: this.opts.env ?? process.env,
      cwd: this.opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(this.opts.uid !== undefined ? { uid: this.opts.uid, gid: this.opts.gid } : {}),
    });
    this.child = child;
    const onData = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      this.output = (this.output + text).slice(-256 * 1024);
      this.log?.write(text);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code, signal) => {
      this.exitCode = code ?? (signal ? -1 : null);
      this.log?.write(`\n[harness] ${this.opts.name} exited code=${code} signal=${signal}\n`);
      for (const w of this.exitWaiters.splice(0)) w(this.exitCode);
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (err) =>
        reject(new Error(`${this.opts.name}: cannot start ${this.opts.command}: ${err.message}`, { cause: err })),
      );
    });
    return this;
  }

  /** Everything printed since the last start (last 256 KiB). */
  get stdout(): string {
    return this.output;
  }

  /** Waits until the output matches, the process exits, or the timeout passes. */
  async waitForOutput(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.output.match(pattern);
      if (m) return m;
      if (this.exitCode !== undefined) {
        throw new Error(`${this.opts.name} exited (${this.exitCode}) before printing ${pattern}:\n${this.tail()}`);
      }
      if (Date.now() > deadline)
        throw new Error(`${this.opts.name} did not print ${pattern} in ${timeoutMs} ms:\n${this.tail()}`);
      await sleep(25);
    }
  }

  tail(lines = 40): string {
    return this.output.split('\n').slice(-lines).join('\n');
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) this.child?.kill(sig);
  }

  /** kill -9: no cleanup, like a power cut for the process. */
  async kill(): Promise<void> {
    await this.signalAndWait('SIGKILL', 10_000);
  }

  /** Graceful stop with SIGTERM, escalating to SIGKILL after the grace period. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    try {
      await this.signalAndWait('SIGTERM', graceMs);
    } catch {
      await this.kill();
    }
    this.log?.end();
  }

  pause(): void {
    this.signal('SIGSTOP');
  }

  resume(): void {
    this.signal('SIGCONT');
  }

  private async signalAndWait(sig: NodeJS.Signals, timeoutMs: number): Promise<void> {
    if (!this.running) return;
    const exited = new Promise<number | null>((resolve) => this.exitWaiters.push(resolve));
    this.child?.kill(sig);
    const timer = sleep(timeoutMs).then(() => {
      throw new Error(`${this.opts.name} did not exit within ${timeoutMs} ms after ${sig}`);
    });
    await Promise.race([exited, timer]);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns a value other than undefined, or throws with `what` after the timeout. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      const detail = lastErr instanceof Error ? `: last error ${lastErr.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await sleep(everyMs);
  }
}
