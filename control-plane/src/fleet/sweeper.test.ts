import pino from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import type { HeartbeatInfo } from '../domain/fleet.js';
import { healthTransitions } from '../domain/timeline.js';
import { bootEventRecorder } from './boot-events.js';
import { MemoryTimelineStore } from './memory-timeline.js';
import { HealthSweeper } from './sweeper.js';

const thresholds = { staleAfterMs: 15_000, offlineAfterMs: 60_000 };
const DAY = 86_400_000;
const log = pino({ level: 'silent' });

describe('health sweeper', () => {
  let now: number;
  let leader: boolean;
  let store: MemoryTimelineStore;
  let sweeper: HealthSweeper;

  beforeEach(() => {
    now = 10 * DAY;
    leader = true;
    store = new MemoryTimelineStore(thresholds);
    sweeper = new HealthSweeper({
      store,
      leader: { isLeader: () => leader },
      clock: { now: () => now },
      thresholds,
      retentionMs: 30 * DAY,
      intervalMs: 1000,
      log,
    });
  });

  const events = (id = 'a1') => store.entries.filter((e) => e.agentId === id).map((e) => [e.event, e.atMs - 10 * DAY]);

  it('records online, then stale, then offline as the last heartbeat ages, each once', async () => {
    store.heartbeat('a1', now);
    await sweeper.tick();
    now += 16_000;
    await sweeper.tick();
    await sweeper.tick();
    now += 50_000;
    await sweeper.tick();
    expect(events()).toEqual([
      ['health.online', 0],
      ['health.stale', 15_000],
      ['health.offline', 60_000],
    ]);
  });

  it('times transitions from the heartbeat, filling in stale when a sweep jumps straight to offline', async () => {
    store.agents.set('a1', {
      id: 'a1',
      lastHeartbeatMs: now,
      lastHealth: 'online',
      runningModelVersion: 'm@3',
      unsentRecords: 7,
    });
    now += 120_000;
    expect((await sweeper.tick())?.transitions).toBe(2);
    expect(events()).toEqual([
      ['health.stale', 15_000],
      ['health.offline', 60_000],
    ]);
    expect(store.entries[0]).toMatchObject({ health: 'stale', runningModelVersion: 'm@3', unsentRecords: 7 });
  });

  it('records the recovery when heartbeats return', async () => {
    store.agents.set('a1', {
      id: 'a1',
      lastHeartbeatMs: now - 120_000,
      lastHealth: 'offline',
      runningModelVersion: '',
      unsentRecords: 0,
    });
    store.heartbeat('a1', now);
    await sweeper.tick();
    expect(events()).toEqual([['health.online', 0]]);
  });

  it('does nothing on a replica that is not the leader', async () => {
    leader = false;
    store.heartbeat('a1', now);
    expect(await sweeper.tick()).toBeUndefined();
    expect(store.entries).toEqual([]);
  });

  it('ignores agents that never sent a heartbeat', () => {
    const never = {
      id: 'n',
      lastHeartbeatMs: 0,
      lastHealth: 'offline' as const,
      runningModelVersion: '',
      unsentRecords: 0,
    };
    expect(healthTransitions([never], now, thresholds)).toEqual([]);
  });

  it('deletes history older than the retention period', async () => {
    store.entries.push(
      {
        agentId: 'a1',
        atMs: now - 31 * DAY,
        health: 'online',
        runningModelVersion: '',
        unsentRecords: 0,
        event: 'announce',
      },
      {
        agentId: 'a1',
        atMs: now - 29 * DAY,
        health: 'online',
        runningModelVersion: '',
        unsentRecords: 0,
        event: 'restart',
      },
    );
    expect((await sweeper.tick())?.deleted).toBe(1);
    expect(store.entries.map((e) => e.event)).toEqual(['restart']);
  });
});

describe('boot events from heartbeats', () => {
  it('records the first announce as announce and later ones as restart', async () => {
    const store = new MemoryTimelineStore(thresholds);
    const record = bootEventRecorder({ store, log });
    const beat = (announce: boolean, at: number) =>
      ({ agentId: 'a1', announce, receivedAtMs: at, runningModelVersion: '' }) as HeartbeatInfo;
    await record([beat(true, 1)]);
    await record([beat(false, 2)]);
    await record([beat(true, 3)]);
    expect(store.entries.map((e) => [e.event, e.atMs])).toEqual([
      ['announce', 1],
      ['restart', 3],
    ]);
  });
});
