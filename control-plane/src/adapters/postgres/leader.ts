import type { Logger } from 'pino';
import postgres from 'postgres';

export interface LeaderElectionOptions {
  /** Database URL; the election uses its own dedicated connection. */
  url: string;
  /** Advisory lock key (schema.ts `leaderLocks`). */
  lockId: number;
  /** Name in logs and metrics, e.g. `fleet_sweeper`. */
  name: string;
  /** How often a follower tries to take the lock and a leader checks it still holds it. @default 5000 */
  retryMs?: number;
  log: Logger;
}

/**
 * Leader election over a PostgreSQL session-level advisory lock held on one dedicated connection:
 * whoever holds the lock leads; when its process or connection dies, Postgres releases the lock and
 * another replica takes it on its next try. Each singleton (fleet sweeper, rollout controller) uses
 * its own lock key and its own instance.
 */
export class PostgresLeaderElection {
  private readonly sql: postgres.Sql;
  private leader = false;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> = Promise.resolve();
  private readonly listeners = new Set<(leader: boolean) => void>();
  private stopped = false;

  constructor(private readonly opts: LeaderElectionOptions) {
    // One connection that never idles out or ages out: closing it would silently drop the lock.
    this.sql = postgres(opts.url, {
      max: 1,
      max_lifetime: null,
      onnotice: () => {},
      onclose: () => this.lost('connection closed'),
      connection: { application_name: `millwright-leader-${opts.name}` },
    });
  }

  isLeader(): boolean {
    return this.leader;
  }

  /** Calls `fn` on every change of leadership; returns the unsubscribe function. */
  onChange(fn: (leader: boolean) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  start(): void {
    this.checking = this.check();
    this.timer = setInterval(() => {
      this.checking = this.checking.then(() => this.check());
    }, this.opts.retryMs ?? 5000);
  }

  /** Gives the lock up (by closing the connection) so another replica can take over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.checking;
    this.set(false);
    await this.sql.end({ timeout: 5 });
  }

  private async check(): Promise<void> {
    if (this.stopped) return;
    try {
      this.set(this.leader ? await this.stillHeld() : await this.tryAcquire());
    } catch (err) {
      this.lost('check failed');
      this.opts.log.warn({ err, lock: this.opts.name }, 'leader.check_failed');
    }
  }

  private async tryAcquire(): Promise<boolean> {
    const [row] = await this.sql<{ ok: boolean }[]>`select pg_try_advisory_lock(${this.opts.lockId}) as ok`;
    return row?.ok === true;
  }

  /** The pool may have reconnected behind our back; a new session does not hold the lock. */
  private async stillHeld(): Promise<boolean> {
    const [row] = await this.sql<{ n: number }[]>`select count(*)::int as n from pg_locks
      where locktype = 'advisory' and pid = pg_backend_pid() and granted and objsubid = 1
        and ((classid::bigint << 32) | objid::bigint) = ${this.opts.lockId}`;
    return (row?.n ?? 0) > 0;
  }

  private lost(why: string): void {
    if (!this.leader) return;
    this.opts.log.warn({ lock: this.opts.name, why }, 'leader.lost');
    this.set(false);
  }

  private set(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    if (leader) this.opts.log.info({ lock: this.opts.name }, 'leader.acquired');
    else if (!this.stopped) this.opts.log.info({ lock: this.opts.name }, 'leader.released');
    for (const fn of this.listeners) fn(leader);
  }
}
