import { sql } from 'drizzle-orm';

/**
 * Transaction-level advisory lock that every writer of `desired_states` takes first, before it reads
 * or writes a row there: rollout writes and KV revision marks (desired-store.ts), key changes and the
 * trust sweep (signing-key-store.ts). One writer at a time, always the same lock taken first, so
 * writers can neither deadlock on each other's row and table locks nor both compute the same next
 * generation for an agent. Released at commit or rollback. (Beside schema.ts `leaderLocks`.)
 */
export const DESIRED_STATES_LOCK = 0x4d570103;

/** The lock as a drizzle statement (postgres.js callers interpolate `DESIRED_STATES_LOCK`). */
export const lockDesiredStatesSql = sql`select pg_advisory_xact_lock(${DESIRED_STATES_LOCK})`;
