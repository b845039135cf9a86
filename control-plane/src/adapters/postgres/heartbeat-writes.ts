/**
 * The statements of the heartbeat hot path (ADR 0007). Heartbeats arrive as column arrays (`unnest`:
 * typed, no JSON to parse) and touch `agent_liveness` only; the wide `agents` row is written only for
 * the few agents whose line, labels, agent version or running model version changed.
 */
import type postgres from 'postgres';
import type { HeartbeatInfo } from '../../domain/fleet.js';

/** Every write runs inside the flush's transaction. */
export type Tx = postgres.TransactionSql;

/**
 * A Postgres array literal of numbers, null as NULL. Every number here is a safe integer or a float,
 * which `String` prints as Postgres reads it. Built by hand and sent as text: postgres.js quotes and
 * regex-escapes every element, which cost more than the rest of a heartbeat's handling.
 */
function numbers(beats: HeartbeatInfo[], get: (b: HeartbeatInfo) => number | null | undefined): string {
  let out = '{';
  for (let i = 0; i < beats.length; i++) {
    const v = get(beats[i]!);
    out += `${i > 0 ? ',' : ''}${v === null || v === undefined ? 'NULL' : String(v)}`;
  }
  return `${out}}`;
}

const NEEDS_ESCAPE = /["\\]/;

/** A Postgres array literal of strings: each quoted, `"` and `\` escaped; null as NULL. */
function texts(beats: HeartbeatInfo[], get: (b: HeartbeatInfo) => string | null | undefined): string {
  let out = '{';
  for (let i = 0; i < beats.length; i++) {
    const v = get(beats[i]!);
    const item =
      v === null || v === undefined
        ? 'NULL'
        : `"${NEEDS_ESCAPE.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"') : v}"`;
    out += `${i > 0 ? ',' : ''}${item}`;
  }
  return `${out}}`;
}

/** The heartbeats as one array literal per column (for `unnest`). */
function columns(beats: HeartbeatInfo[]) {
  const buffer = (get: (f: NonNullable<HeartbeatInfo['buffer']>) => number) =>
    numbers(beats, (b) => (b.buffer ? get(b.buffer) : null));
  return {
    ids: texts(beats, (b) => b.agentId),
    sites: texts(beats, (b) => b.siteId),
    lines: texts(beats, (b) => b.lineId),
    labels: texts(beats, (b) => JSON.stringify(b.labels)),
    versions: texts(beats, (b) => b.agentVersion),
    running: texts(beats, (b) => b.runningModelVersion),
    seenMs: numbers(beats, (b) => b.receivedAtMs),
    seqs: numbers(beats, (b) => b.heartbeatSeq),
    boots: texts(beats, (b) => b.bootId),
    startedMs: numbers(beats, (b) => b.startedAtMs || b.receivedAtMs),
    unsent: buffer((f) => f.unsentRecords),
    uncommitted: buffer((f) => f.uncommittedRecords),
    bytes: buffer((f) => f.bytesOnDisk),
    capacity: buffer((f) => f.capacityBytes),
    head: buffer((f) => f.headSeq),
    committed: buffer((f) => f.committedSeq),
    lastSync: buffer((f) => f.lastSyncMs),
    dropped: texts(beats, (b) => (b.buffer ? JSON.stringify(b.buffer.droppedByClass) : null)),
    cpu: numbers(beats, (b) => b.resources?.cpuPercent),
    rss: numbers(beats, (b) => b.resources?.rssBytes),
    diskFree: numbers(beats, (b) => b.resources?.diskFreeBytes),
  };
}

/**
 * Upserts the liveness of the heartbeats' agents that exist and are not decommissioned (with
 * `matchSite`, only where the site agrees too), where the heartbeat is newer than the stored one
 * (another boot, or a higher seq of the same boot). Returns the applied agents and whether their
 * `agents` row needs its slow columns written. The agent lookup is a LATERAL subquery kept apart
 * (`offset 0`) so it stays one index probe per heartbeat: joined, the planner hashes the whole
 * `agents` table for a large batch.
 */
export async function applyLiveness(
  tx: Tx,
  beats: HeartbeatInfo[],
  matchSite: boolean,
): Promise<{ id: string; changed: boolean }[]> {
  const c = columns(beats);
  const rows = await tx<{ id: string; changed: boolean }[]>`with x as (
      select * from unnest(${c.ids}::text::text[], ${c.sites}::text::text[], ${c.lines}::text::text[], ${c.labels}::text::text[],
        ${c.versions}::text::text[], ${c.running}::text::text[], ${c.seenMs}::text::float8[], ${c.seqs}::text::bigint[], ${c.boots}::text::text[],
        ${c.startedMs}::text::float8[], ${c.unsent}::text::bigint[], ${c.uncommitted}::text::bigint[], ${c.bytes}::text::bigint[],
        ${c.capacity}::text::bigint[], ${c.head}::text::bigint[], ${c.committed}::text::bigint[], ${c.lastSync}::text::bigint[],
        ${c.dropped}::text::text[], ${c.cpu}::text::float8[], ${c.rss}::text::bigint[], ${c.diskFree}::text::bigint[])
      as x(id, site_id, line_id, labels, agent_version, running_model_version, seen_ms, heartbeat_seq, boot_id,
        started_ms, unsent, uncommitted, bytes, capacity, head, committed, last_sync, dropped, cpu, rss, disk_free)
    ), ok as (
      select x.*, a.changed from x cross join lateral (
        select (a.line_id, a.labels, a.agent_version, a.running_model_version)
          is distinct from (x.line_id, x.labels::jsonb, x.agent_version, x.running_model_version) as changed
        from agents a
        where a.id = x.id and a.decommissioned_at is null and (not ${matchSite}::boolean or a.site_id = x.site_id)
        offset 0) a
    ), live as (
      insert into agent_liveness (agent_id, last_seen, heartbeat_seq, boot_id, started_at, unsent_records,
        uncommitted_records, bytes_on_disk, capacity_bytes, head_seq, committed_seq, last_sync_ms, dropped_by_class,
        cpu_percent, rss_bytes, disk_free_bytes)
      select id, to_timestamp(seen_ms / 1000.0), heartbeat_seq, boot_id, to_timestamp(started_ms / 1000.0), unsent,
        uncommitted, bytes, capacity, head, committed, last_sync, dropped::jsonb, cpu, rss, disk_free
      from ok
      on conflict (agent_id) do update set last_seen = excluded.last_seen, heartbeat_seq = excluded.heartbeat_seq,
        boot_id = excluded.boot_id, started_at = excluded.started_at, unsent_records = excluded.unsent_records,
        uncommitted_records = excluded.uncommitted_records, bytes_on_disk = excluded.bytes_on_disk,
        capacity_bytes = excluded.capacity_bytes, head_seq = excluded.head_seq, committed_seq = excluded.committed_seq,
        last_sync_ms = excluded.last_sync_ms, dropped_by_class = excluded.dropped_by_class,
        cpu_percent = excluded.cpu_percent, rss_bytes = excluded.rss_bytes, disk_free_bytes = excluded.disk_free_bytes
      where agent_liveness.boot_id <> excluded.boot_id or agent_liveness.heartbeat_seq < excluded.heartbeat_seq
      returning agent_id
    )
    select ok.id, ok.changed from ok join live on live.agent_id = ok.id`;
  return rows.map((r) => ({ id: r.id, changed: r.changed }));
}

/** Writes line, labels, agent version and running model version where they differ (rare). */
export async function writeSlowColumns(tx: Tx, beats: HeartbeatInfo[]): Promise<void> {
  const c = columns(beats);
  await tx`update agents a set line_id = x.line_id, labels = x.labels::jsonb, agent_version = x.agent_version,
      running_model_version = x.running_model_version
    from unnest(${c.ids}::text::text[], ${c.lines}::text::text[], ${c.labels}::text::text[], ${c.versions}::text::text[], ${c.running}::text::text[])
      as x(id, line_id, labels, agent_version, running_model_version)
    where a.id = x.id and a.decommissioned_at is null
      and (a.line_id, a.labels, a.agent_version, a.running_model_version)
        is distinct from (x.line_id, x.labels::jsonb, x.agent_version, x.running_model_version)`;
}

/** Registers agents (and their sites) seen for the first time; an agent registered meanwhile is kept. */
export async function registerAgents(tx: Tx, beats: HeartbeatInfo[]): Promise<void> {
  const c = columns(beats);
  await tx`insert into sites (id) select distinct s from unnest(${c.sites}::text::text[]) as s on conflict do nothing`;
  await tx`insert into agents (id, site_id, line_id, labels, agent_version, running_model_version)
    select id, site_id, line_id, labels::jsonb, agent_version, running_model_version
    from unnest(${c.ids}::text::text[], ${c.sites}::text::text[], ${c.lines}::text::text[], ${c.labels}::text::text[], ${c.versions}::text::text[],
      ${c.running}::text::text[]) as x(id, site_id, line_id, labels, agent_version, running_model_version)
    on conflict (id) do nothing`;
}

/** Registration facts of the given agents (those a liveness write did not apply). */
export async function agentFacts(
  tx: Tx,
  ids: string[],
): Promise<Map<string, { siteId: string; decommissioned: boolean }>> {
  const rows = await tx<{ id: string; site_id: string; gone: boolean }[]>`select id, site_id,
      decommissioned_at is not null as gone
    from agents where id = any(${ids}::text[])`;
  return new Map(rows.map((r) => [r.id, { siteId: r.site_id, decommissioned: r.gone }]));
}
