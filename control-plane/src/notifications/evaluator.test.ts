import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Agent } from '../domain/fleet.js';
import type { RuleSnapshot } from './domain.js';
import { NotificationEvaluator } from './evaluator.js';
import { MemoryAlertRuleStore, MemoryNotificationStore, RecordingWebhook } from './fakes.js';
import { AlertRuleService } from './rules.js';

const MIN = 60_000;

function agent(id: string, over: Partial<Agent> = {}): Agent {
  return {
    id,
    siteId: 'plant-a',
    lineId: 'L1',
    labels: {},
    agentVersion: '1',
    runningModelVersion: '',
    desiredModelVersion: '',
    lastHeartbeatMs: 0,
    health: 'online',
    buffer: undefined,
    resources: undefined,
    enrolledAtMs: 0,
    startedAtMs: 0,
    pinned: false,
    modelState: undefined,
    ...over,
  };
}

function setup() {
  let now = 100 * MIN;
  const snap: Omit<RuleSnapshot, 'nowMs'> = { agents: [], drift: new Map(), drops: new Map(), rollouts: [] };
  const rules = new MemoryAlertRuleStore(() => now);
  const events = new MemoryNotificationStore();
  const webhook = new RecordingWebhook();
  let leader = true;
  const evaluator = new NotificationEvaluator({
    rules,
    events,
    webhook,
    source: { snapshot: async (nowMs) => ({ ...snap, nowMs }) },
    leader: { isLeader: () => leader },
    now: () => now,
    intervalMs: 1000,
    log: pino({ level: 'silent' }),
  });
  const service = new AlertRuleService({ rules, events });
  return {
    snap,
    events,
    webhook,
    evaluator,
    service,
    advance: (ms: number) => {
      now += ms;
    },
    now: () => now,
    setLeader: (v: boolean) => {
      leader = v;
    },
  };
}

describe('NotificationEvaluator', () => {
  it('notifies once when an agent has been offline for N minutes and resolves when it returns', async () => {
    const t = setup();
    await t.service.add({ id: 'offline', kind: 'agent_offline', params: { minutes: 5 }, webhookUrl: 'http://hook/a' });
    t.snap.agents = [agent('a1', { health: 'offline', lastHeartbeatMs: t.now() - 3 * MIN })];
    expect((await t.evaluator.tick()).fired).toBe(0);

    t.advance(2 * MIN);
    expect((await t.evaluator.tick()).fired).toBe(1);
    t.advance(MIN);
    expect((await t.evaluator.tick()).fired).toBe(0);
    expect(t.webhook.sent).toHaveLength(1);
    expect(t.webhook.sent[0]!.body).toMatchObject({ status: 'firing', rule: 'offline', subject: 'agent:a1' });
    expect(String(t.webhook.sent[0]!.body.text)).toMatch(/FIRING.*a1 \(plant-a\/L1\) offline for 5 min/);

    t.snap.agents = [agent('a1', { health: 'online', lastHeartbeatMs: t.now() })];
    expect((await t.evaluator.tick()).resolved).toBe(1);
    expect(t.webhook.sent.map((s) => s.body.status)).toEqual(['firing', 'resolved']);
    expect(String(t.webhook.sent[1]!.body.text)).toMatch(/RESOLVED.*a1/);
    expect(await t.events.open()).toEqual([]);
  });

  it('retries a firing the webhook refused on the next tick without opening a second notification', async () => {
    const t = setup();
    await t.service.add({ id: 'buf', kind: 'buffer_full', params: { percent: 80 }, webhookUrl: 'http://hook/b' });
    const buffer = {
      unsentRecords: 9,
      uncommittedRecords: 9,
      bytesOnDisk: 90,
      capacityBytes: 100,
      headSeq: 9,
      committedSeq: 0,
      lastSyncMs: 0,
      droppedByClass: {},
    };
    t.snap.agents = [agent('a2', { buffer })];
    t.webhook.failing = true;
    expect(await t.evaluator.tick()).toEqual({ fired: 1, resolved: 0, failed: 1 });
    t.webhook.failing = false;
    expect(await t.evaluator.tick()).toEqual({ fired: 0, resolved: 0, failed: 0 });
    expect(t.webhook.sent).toHaveLength(1);
    expect(t.events.rows).toHaveLength(1);
    expect(String(t.webhook.sent[0]!.body.text)).toContain('a2 buffer 90 % full');
  });

  it('fires drift over its threshold, dropping data and rollouts paused or rolled back', async () => {
    const t = setup();
    await t.service.add({ id: 'd', kind: 'drift', params: { threshold: 2 }, webhookUrl: 'http://hook/d' });
    await t.service.add({ id: 'x', kind: 'dropping', webhookUrl: 'http://hook/x' });
    await t.service.add({ id: 'r', kind: 'rollout_paused', webhookUrl: 'http://hook/r' });
    t.snap.drift = new Map([
      ['a1', { channel: 'pump.temp_nde', score: 2.5, flagged: true }],
      ['a2', { channel: 'pump.vib_h', score: 1.1, flagged: false }],
    ]);
    t.snap.drops = new Map([['a3', 12]]);
    t.snap.rollouts = [
      { id: 'ro1', model: 'm', version: '2', status: 'paused', statusReason: 'gate anomaly_rate failed' },
      { id: 'ro2', model: 'm', version: '3', status: 'running', statusReason: '' },
    ];
    await t.evaluator.tick();
    expect(t.webhook.sent.map((s) => `${s.body.rule} ${s.body.subject}`).sort()).toEqual([
      'd agent:a1',
      'r rollout:ro1',
      'x agent:a3',
    ]);
  });

  it('does nothing on a follower', async () => {
    const t = setup();
    await t.service.add({ id: 'x', kind: 'dropping', webhookUrl: 'http://hook/x' });
    t.snap.drops = new Map([['a3', 12]]);
    t.setLeader(false);
    await t.evaluator.tick();
    expect(t.webhook.sent).toEqual([]);
  });

  it('refuses an unknown kind, a bad URL and a duplicate id, naming the field', async () => {
    const t = setup();
    await expect(t.service.add({ id: 'a', kind: 'nope', webhookUrl: 'http://h' })).rejects.toMatchObject({
      code: 'INVALID',
      details: { field: 'kind' },
    });
    await expect(t.service.add({ id: 'a', kind: 'drift', webhookUrl: 'ftp://h' })).rejects.toMatchObject({
      details: { field: 'webhookUrl' },
    });
    await t.service.add({ id: 'a', kind: 'drift', webhookUrl: 'http://h' });
    await expect(t.service.add({ id: 'a', kind: 'drift', webhookUrl: 'http://h' })).rejects.toMatchObject({
      code: 'ALREADY_EXISTS',
    });
  });
});
