import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SampleBlock } from '../../domain/channel.js';
import { VirtualClock } from '../../ingest/clock.js';
import { launchMosquitto, type Mosquitto } from './mosquitto-launcher.js';
import { MqttSource, type MqttSourceConfig } from './mqtt-source.js';

let broker: Mosquitto;
let publisher: MqttClient;

beforeAll(async () => {
  broker = await launchMosquitto();
  publisher = await mqtt.connectAsync(broker.url, { reconnectPeriod: 100 });
});
afterAll(async () => {
  await publisher?.endAsync(true);
  await broker?.dispose();
});

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const channel = (name: string) => ({ name, unit: 'u', sampleRateHz: 1, asset: 'line1' });
type Got = { channel: string; t: number; v: number };

function config(prefix: string): MqttSourceConfig {
  return {
    id: 'mqtt',
    url: broker.url,
    qos: 1,
    reconnectPeriodMs: 100,
    topics: [
      { filter: `${prefix}/+/temp`, channel: channel('line1.temp'), format: 'number' },
      { filter: `${prefix}/press`, channel: channel('line1.press') },
      {
        filter: `${prefix}/flow/#`,
        channel: channel('line1.flow'),
        format: 'json',
        valuePath: 'data.v',
        tsPath: 'data.t',
      },
      { filter: `${prefix}/level`, channel: channel('line1.level'), timestamp: 'receipt' },
    ],
  };
}

describe('MqttSource against a real Mosquitto', () => {
  it('maps wildcard topics to channels, decodes each payload format and counts malformed ones', async () => {
    const clock = new VirtualClock(Date.UTC(2026, 5, 1));
    const src = new MqttSource(config('t1'), { clock });
    const got: Got[] = [];
    await src.start((b: SampleBlock) => got.push({ channel: b.channel, t: b.t0Ms, v: b.values[0]! }));
    await src.ready();
    const pub = (topic: string, payload: string) => publisher.publishAsync(topic, payload, { qos: 1 });
    await pub('t1/m1/temp', '21.5');
    await pub('t1/m2/temp', 'warm');
    await pub('t1/press', '{"value": 1.25, "ts": 1700000000000}');
    await pub('t1/press', '7');
    await pub('t1/press', '{"value": "x"}');
    await pub('t1/flow/a/b', '{"data": {"v": 3.5, "t": "2026-01-02T03:04:05Z"}}');
    await pub('t1/flow', '{not json');
    await pub('t1/level', '{"value": 9, "ts": 1}');
    await waitFor('all messages', () => src.stats().received === 8);
    const now = clock.now();
    expect(got).toEqual([
      { channel: 'line1.temp', t: now, v: 21.5 },
      { channel: 'line1.press', t: 1_700_000_000_000, v: 1.25 },
      { channel: 'line1.press', t: now, v: 7 },
      { channel: 'line1.flow', t: Date.UTC(2026, 0, 2, 3, 4, 5), v: 3.5 },
      { channel: 'line1.level', t: now, v: 9 },
    ]);
    expect(src.stats()).toMatchObject({ connected: true, accepted: 5, malformed: 3, unmatched: 0 });
    await src.stop();
  });

  it('reconnects and resubscribes after the broker restarts', async () => {
    const src = new MqttSource(config('t2'), { clock: new VirtualClock(0) });
    const got: Got[] = [];
    await src.start((b) => got.push({ channel: b.channel, t: b.t0Ms, v: b.values[0]! }));
    await src.ready();
    await publisher.publishAsync('t2/x/temp', '1', { qos: 1 });
    await waitFor('first message', () => got.length === 1);

    await broker.stop();
    await waitFor('disconnect', () => !src.stats().connected);
    await broker.start();
    await waitFor('resubscription', () => src.stats().subscribed, 15_000);
    await waitFor('publisher reconnect', () => publisher.connected, 15_000);
    await publisher.publishAsync('t2/x/temp', '2', { qos: 1 });
    await waitFor('message after restart', () => got.length === 2);

    expect(got.map((g) => g.v)).toEqual([1, 2]);
    expect(src.stats().reconnects).toBeGreaterThanOrEqual(1);
    await src.stop();
  });

  it('keeps trying without crashing while no broker listens', async () => {
    const src = new MqttSource({ ...config('t3'), url: 'mqtt://127.0.0.1:1' }, { clock: new VirtualClock(0) });
    await src.start(() => undefined);
    await waitFor('a reconnect attempt', () => src.stats().reconnects >= 2);
    expect(src.stats()).toMatchObject({ connected: false, subscribed: false });
    expect(src.stats().errors).toBeGreaterThan(0);
    await src.stop();
  });
});
