import { fileURLToPath } from 'node:url';
import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import * as schema from './schema.js';

export type Db = PostgresJsDatabase<typeof schema>;
export type Sql = postgres.Sql;

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations', import.meta.url));

export interface DbHandle {
  sql: Sql;
  db: Db;
  close(): Promise<void>;
}

export function openDb(url: string, poolSize: number): DbHandle {
  const sql = postgres(url, { max: poolSize, onnotice: () => {}, connection: { application_name: 'millwright' } });
  const db = drizzle(sql, { schema });
  return { sql, db, close: () => sql.end({ timeout: 5 }) };
}

/** Applies pending migrations; replicas starting together serialise on an advisory lock. */
export async function runMigrations(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql`select pg_advisory_lock(${schema.leaderLocks.migrations})`;
    await migrate(drizzle(sql), { migrationsFolder: MIGRATIONS_DIR });
    await sql`select pg_advisory_unlock(${schema.leaderLocks.migrations})`;
  } finally {
    await sql.end({ timeout: 5 });
  }
}
