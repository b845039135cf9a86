/**
 * The heartbeat path of the fleet store against a real PostgreSQL (ADR 0007): liveness in
 * agent_liveness, the agents row written only when something else changed, reads joining the two.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type DbHandle,
  MIGRATIONS_DIR,
  openDb,
  runMigrations,
} from '@millwright/control-plane/adapters/postgres/db.js';
import { PostgresFleetStore } from '@millwright/control-plane/adapters/postgres/fleet-store.js';
import { applyLiveness } from '@millwright/control-plane/adapters/postgres/heartbeat-writes.js';
import { PostgresTimelineStore } from '@millwright/control-plane/adapters/postgres/timeline-store.js';
import type { HeartbeatInfo } from '@millwright/control-plane/domain/fleet.js';
import postgres from 'postgres';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PostgresServer } from '../harness/index.js';

const thresholds = { staleAfterMs: 15_000, offlineAfterMs: 60_000 };
const T0 = Date.parse('2026-11-01T12:00:00Z');

function beat(agentId: string, seq: number, over: Partial<HeartbeatInfo> = {}): HeartbeatInfo {
  return {
    agentId,
    siteId: 'plant-a',
    lineId: 'L1',
    labels: { machine_type: 'pump' },
    agentVersion: '0.3.0',
    runningModelVersion: '1.4.0',
    sentAtMs: T0 + seq * 5000,
    heartbeatSeq: seq,
    bootId: 'boot-1',
    startedAtMs: T0 - 3_600_000,
    announce: false,
    resources: { cpuPercent: 12.5, rssBytes: 80_000_000, diskFreeBytes: 5_000_000_000 },
    buffer: {
      unsentRecords: 10 + seq,
      uncommittedRecords: 40,
      bytesOnDisk: 123_456,
      capacityBytes: 1_000_000_000,
      headSeq: 5000 + seq,
      committedSeq: 4960,
      lastSyncMs: T0,
      droppedByClass: { telemetry: 3 },
    },
    receivedAtMs: T0 + seq * 5000 + 20,
    ...over,
  };
}

describe('fleet store: liveness apart from the agents row', () => {
  let pg: PostgresServer;
  let h: DbHandle;
  let store: PostgresFleetStore;
  let timeline: PostgresTimelineStore;
  let url: string;

  /** The transaction id that last wrote the agent's row: unchanged means the row was not rewritten. */
  const xmin = async (id: string) => (await h.sql`select xmin::text as x from agents where id = ${id}`)[0]?.x;

  beforeAll(async () => {
    pg = await PostgresServer.start();
    url = await pg.createDatabase();
    await runMigrations(url);
    h = openDb(url, 3);
    store = new PostgresFleetStore({ db: h.db, sql: h.sql, thresholds });
    timeline = new PostgresTimelineStore({ db: h.db, thresholds });
  });

  afterAll(async () => {
    await h?.close();
    await pg?.dispose();
  });

  beforeEach(async () => {
    await h.sql`truncate agent_liveness, agent_history, agents, sites cascade`;
  });

  it('keeps heartbeats in agent_liveness and leaves the agents row alone while nothing else changes', async () => {
    expect(await store.upsertHeartbeats([beat('p1', 1)], { autoRegister: true })).toMatchObject({ applied: 1 });
    const written = await xmin('p1');
    for (const seq of [2, 3, 4]) await store.upsertHeartbeats([beat('p1', seq)], { autoRegister: true });
    expect(await xmin('p1')).toBe(written);
    const agent = await store.getAgent('p1', T0 + 4 * 5000 + 1000);
    expect(agent).toMatchObject({
      siteId: 'plant-a',
      lineId: 'L1',
      labels: { machine_type: 'pump' },
      agentVersion: '0.3.0',
      runningModelVersion: '1.4.0',
      lastHeartbeatMs: T0 + 4 * 5000 + 20,
      startedAtMs: T0 - 3_600_000,
      health: 'online',
      resources: { cpuPercent: 12.5, rssBytes: 80_000_000, diskFreeBytes: 5_000_000_000 },
      buffer: { unsentRecords: 14, headSeq: 5004, committedSeq: 4960, droppedByClass: { telemetry: 3 } },
    });
    const [legacy] = await h.sql`select last_heartbeat_at, heartbeat_seq, buffer from agents where id = 'p1'`;
    expect(legacy).toEqual({ last_heartbeat_at: null, heartbeat_seq: '0', buffer: null });
  });

  it('writes the agents row when line, labels, agent version or running model version change', async () => {
    await store.upsertHeartbeats([beat('p1', 1)], { autoRegister: true });
    const changes: Partial<HeartbeatInfo>[] = [
      { lineId: 'L2' },
      { lineId: 'L2', labels: { machine_type: 'pump', zone: 'north' } },
      { lineId: 'L2', labels: { machine_type: 'pump', zone: 'north' }, agentVersion: '0.4.0' },
      {
        lineId: 'L2',
        labels: { machine_type: 'pump', zone: 'north' },
        agentVersion: '0.4.0',
        runningModelVersion: '2.0.0',
      },
    ];
    let seq = 1;
    for (const change of changes) {
      const before = await xmin('p1');
      await store.upsertHeartbeats([beat('p1', ++seq, change)], { autoRegister: true });
      expect(await xmin('p1')).not.toBe(before);
    }
    expect(await store.getAgent('p1', T0)).toMatchObject({
      lineId: 'L2',
      labels: { machine_type: 'pump', zone: 'north' },
      agentVersion: '0.4.0',
      runningModelVersion: '2.0.0',
    });
  });

  it('round-trips text that needs quoting in an array literal', async () => {
    const odd = {
      lineId: 'line "7", hall {B}',
      labels: { 'k"ey': 'va\\lue', comma: 'a,b', nul: 'NULL', empty: '', utf: 'Förderband ⚙' },
      agentVersion: 'NULL',
      runningModelVersion: '1.0.0+build\\1',
    };
    await store.upsertHeartbeats([beat('odd', 1, odd)], { autoRegister: true });
    expect(await store.getAgent('odd', T0)).toMatchObject(odd);
    await store.upsertHeartbeats([beat('odd', 2, { ...odd, bootId: 'boot "2"', buffer: undefined })], {
      autoRegister: true,
    });
    const agent = await store.getAgent('odd', T0);
    expect(agent).toMatchObject({ ...odd, lastHeartbeatMs: T0 + 10_020 });
    expect(agent?.buffer).toBeUndefined();
    expect(await h.sql`select boot_id from agent_liveness`).toEqual([{ boot_id: 'boot "2"' }]);
  });

  it('ignores an older heartbeat of the same boot, slow columns included, and takes any heartbeat of a new boot', async () => {
    await store.upsertHeartbeats([beat('p1', 5)], { autoRegister: true });
    const res = await store.upsertHeartbeats([beat('p1', 3, { agentVersion: '0.1.0' })], { autoRegister: true });
    expect(res).toEqual({ applied: 0, unknownAgents: [], decommissionedAgents: [] });
    expect(await store.getAgent('p1', T0)).toMatchObject({ agentVersion: '0.3.0', lastHeartbeatMs: T0 + 25_020 });
    const restart = beat('p1', 1, { bootId: 'boot-2', startedAtMs: T0 + 30_000, receivedAtMs: T0 + 31_000 });
    expect(await store.upsertHeartbeats([restart], { autoRegister: true })).toMatchObject({ applied: 1 });
    expect(await store.getAgent('p1', T0)).toMatchObject({ startedAtMs: T0 + 30_000, lastHeartbeatMs: T0 + 31_000 });
  });

  it('reports unknown and decommissioned agents without auto-registration, and an older heartbeat as neither', async () => {
    await h.sql`insert into sites (id) values ('plant-a'), ('plant-b')`;
    await h.sql`insert into agents (id, site_id) values ('known', 'plant-a'), ('moved', 'plant-b'), ('gone', 'plant-a')`;
    await store.upsertHeartbeats([beat('known', 7)], { autoRegister: false });
    await h.sql`update agents set decommissioned_at = now(), last_health = 'decommissioned' where id = 'gone'`;
    const res = await store.upsertHeartbeats(
      [beat('known', 6), beat('moved', 1), beat('gone', 1), beat('stranger', 1)],
      { autoRegister: false },
    );
    expect(res.applied).toBe(0);
    expect(res.unknownAgents.sort()).toEqual(['moved', 'stranger']);
    expect(res.decommissionedAgents).toEqual(['gone']);
    const rows = await h.sql`select agent_id from agent_liveness order by agent_id`;
    expect(rows.map((r) => r.agent_id)).toEqual(['known']);
    expect(await store.getAgent('stranger', T0)).toBeUndefined();
    expect((await store.getAgent('gone', T0))?.health).toBe('decommissioned');
  });

  it('registers unknown agents and their sites with auto-registration on, in the same write as known ones', async () => {
    await store.upsertHeartbeats([beat('old', 1)], { autoRegister: true });
    const res = await store.upsertHeartbeats(
      [beat('old', 2), beat('new', 1, { siteId: 'plant-z', labels: { line: 'z' } })],
      { autoRegister: true },
    );
    expect(res).toEqual({ applied: 2, unknownAgents: [], decommissionedAgents: [] });
    expect(await store.getAgent('new', T0 + 5_100)).toMatchObject({
      siteId: 'plant-z',
      labels: { line: 'z' },
      health: 'online',
    });
    expect(await h.sql`select id from sites where id = 'plant-z'`).toHaveLength(1);
  });

  it('derives health and filters from liveness, and falls back to the legacy column for agents without liveness', async () => {
    await store.upsertHeartbeats([beat('fresh', 1), beat('quiet', 1, { receivedAtMs: T0 - 30_000 })], {
      autoRegister: true,
    });
    await h.sql`insert into agents (id, site_id, last_heartbeat_at) values
      ('seeded', 'plant-a', ${new Date(T0).toISOString()}), ('never', 'plant-a', null)`;
    const now = T0 + 5_100;
    const ids = async (health: 'online' | 'stale' | 'offline') =>
      (await store.listAgents({ health }, { limit: 10 }, now)).agents.map((a) => a.id);
    expect(await ids('online')).toEqual(['fresh', 'seeded']);
    expect(await ids('stale')).toEqual(['quiet']);
    expect(await ids('offline')).toEqual(['never']);
    const all = await store.listAgents({ siteId: 'plant-a' }, { limit: 2 }, now);
    expect(all.total).toBe(4);
    expect(all.agents.map((a) => [a.id, a.health])).toEqual([
      ['fresh', 'online'],
      ['never', 'offline'],
    ]);
  });

  it('gives the health sweeper last-seen and unsent records from liveness', async () => {
    await store.upsertHeartbeats([beat('p1', 2)], { autoRegister: true });
    await h.sql`update agents set last_health = 'online'`;
    const candidates = await timeline.sweepCandidates(T0 + 10_020 + 20_000, 100);
    expect(candidates).toEqual([
      { id: 'p1', lastHeartbeatMs: T0 + 10_020, lastHealth: 'online', runningModelVersion: '1.4.0', unsentRecords: 12 },
    ]);
  });

  it('probes agents by index for a large write instead of scanning the table', async () => {
    await h.sql`insert into sites (id) values ('plant-a')`;
    await h.sql`insert into agents (id, site_id, line_id, labels, agent_version, running_model_version)
      select 'a-' || i, 'plant-a', 'L1', '{"machine_type":"pump"}', '0.3.0', '1.4.0' from generate_series(1, 50000) i`;
    await h.sql`analyze agents`;
    const beats = Array.from({ length: 6000 }, (_, i) => beat(`a-${i * 7 + 1}`, 1));
    // A fresh backend: its transaction counters hold nothing from earlier statements.
    const own = postgres(url, { max: 1, onnotice: () => {} });
    const scans = await own.begin(async (tx) => {
      const applied = await applyLiveness(tx, beats, false);
      expect(applied).toHaveLength(6000);
      expect(applied.filter((a) => a.changed)).toEqual([]);
      return tx`select seq_scan::int as n from pg_stat_xact_user_tables where relname = 'agents'`;
    });
    await own.end();
    expect(scans[0]?.n).toBe(0);
  });

  it('reads liveness only from the page on when listing the fleet page by page', async () => {
    await h.sql`insert into sites (id) values ('plant-a')`;
    await h.sql`insert into agents (id, site_id) select 'a-' || lpad(i::text, 6, '0'), 'plant-a' from generate_series(1, 50000) i`;
    await h.sql`insert into agent_liveness (agent_id, last_seen, heartbeat_seq, boot_id)
      select id, now(), 1, 'b' from agents`;
    await h.sql`analyze agents`;
    await h.sql`analyze agent_liveness`;
    // A fresh backend and its own statistics: tuples it read from the liveness key.
    const own = openDb(url, 1);
    const tuplesRead = async () => {
      await own.sql`select pg_stat_force_next_flush()`;
      await own.sql`select pg_stat_clear_snapshot()`;
      const [r] = await own.sql`select idx_tup_read::int as n from pg_stat_user_indexes
        where indexrelname = 'agent_liveness_pkey'`;
      return r?.n ?? 0;
    };
    try {
      const paged = new PostgresFleetStore({ db: own.db, sql: own.sql, thresholds });
      const before = await tuplesRead();
      const page = await paged.listAgents({}, { limit: 1000, afterId: 'a-045000' }, T0);
      const read = (await tuplesRead()) - before;
      expect(page.agents.map((a) => a.id).slice(0, 2)).toEqual(['a-045001', 'a-045002']);
      expect(page.agents[0]?.lastHeartbeatMs).toBeGreaterThan(0);
      expect(read).toBeLessThan(5000);
    } finally {
      await own.close();
    }
  });

  it("backfills agent_liveness from the agents' legacy heartbeat columns (migration 0007)", async () => {
    await h.sql`insert into sites (id) values ('plant-a')`;
    await h.sql`insert into agents (id, site_id, last_heartbeat_at, heartbeat_seq, boot_id, started_at, buffer, resources)
      values ('legacy', 'plant-a', ${new Date(T0).toISOString()}, 42, 'b', ${new Date(T0 - 1000).toISOString()},
        ${JSON.stringify(beat('x', 1).buffer)}::jsonb, '{"cpuPercent":1.5,"rssBytes":2,"diskFreeBytes":3}'::jsonb),
        ('silent', 'plant-a', null, 0, '', null, null, null)`;
    const file = readFileSync(join(MIGRATIONS_DIR, '0007_agent_liveness_backfill.sql'), 'utf8');
    for (const stmt of file.split('--> statement-breakpoint')) await h.sql.unsafe(stmt);
    const legacy = await store.getAgent('legacy', T0 + 1000);
    await h.sql`update agents set last_heartbeat_at = null, buffer = null, resources = null, started_at = null`;
    // Now only the backfilled liveness row can answer.
    expect(await store.getAgent('legacy', T0 + 1000)).toEqual(legacy);
    expect(legacy).toMatchObject({
      lastHeartbeatMs: T0,
      startedAtMs: T0 - 1000,
      buffer: beat('x', 1).buffer,
      resources: { cpuPercent: 1.5, rssBytes: 2, diskFreeBytes: 3 },
    });
    expect(await h.sql`select agent_id, heartbeat_seq from agent_liveness`).toEqual([
      { agent_id: 'legacy', heartbeat_seq: '42' },
    ]);
  });
});
