import type postgres from 'postgres';

/** Simulated agents live on this many sites, four lines each (no site has a single line). */
export const SITES = 50;

export interface SimAgent {
  id: string;
  siteId: string;
}

/** A simulated fleet: ids `<prefix>-<i>` on sites `<prefix>s-<i % SITES>`, labelled `fleet=<prefix>`. */
export function fleet(prefix: string, n: number): SimAgent[] {
  return Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${i}`, siteId: `${prefix}s-${i % SITES}` }));
}

/**
 * Registers the fleet directly in Postgres, online (heartbeat now) and running `runningVersion`:
 * enrollment is not what is measured. Strata (hardware × machine_type) vary so the canary is stratified.
 */
export async function registerFleet(sql: postgres.Sql, prefix: string, n: number, runningVersion: string) {
  await sql`insert into sites (id) select ${`${prefix}s-`} || i from generate_series(0, ${SITES - 1}) i on conflict do nothing`;
  await sql`insert into agents (id, site_id, line_id, labels, last_heartbeat_at, boot_id, running_model_version)
    select ${`${prefix}-`} || i, ${`${prefix}s-`} || (i % ${SITES}), 'L' || ((i / ${SITES}) % 4),
      jsonb_build_object('fleet', ${prefix}::text, 'hardware', case when i % 3 = 0 then 'arm' else 'x86' end, 'machine_type', 'press'),
      now(), 'boot', ${runningVersion}
    from generate_series(0, ${n - 1}) i`;
  await sql`analyze agents`;
}
