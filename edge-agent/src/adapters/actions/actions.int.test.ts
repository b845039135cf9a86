import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertEvent } from '../../domain/prediction.js';
import { launchMosquitto, type Mosquitto } from '../mqtt/mosquitto-launcher.js';
import { MqttAlertSink } from './mqtt.js';
import { WebhookAlertSink } from './webhook.js';

function event(state: AlertEvent['state']): AlertEvent {
  return {
    alertId: 'a1:pump-1:1',
    state,
    asset: 'pump-1',
    modelVersion: '1.0.0',
    score: 0.93,
    reasons: [
      {
        feature: 'vib.kurtosis',
        value: 9.3,
        unit: '1',
        contribution: 2,
        baseline: 3,
        text: 'vib.kurtosis 3.1x baseline',
      },
    ],
    message: 'pump-1: alert (vib.kurtosis 3.1x baseline)',
    predictionId: 'a1:b:7',
    atMs: 1000,
  };
}

describe('local alert actions', () => {
  let broker: Mosquitto;
  beforeAll(async () => {
    broker = await launchMosquitto();
  });
  afterAll(async () => {
    await broker?.dispose();
  });

  it('publishes transitions to MQTT and keeps the open state retained until resolved', async () => {
    const sink = new MqttAlertSink({ url: broker.url, topicPrefix: 'plant', agentId: 'a1', onError: () => {} });
    sink.send(event('raised'));
    await new Promise((r) => setTimeout(r, 300));
    // A PLC gateway connecting later still sees the open alert.
    const late = await mqtt.connectAsync(broker.url);
    const retained = new Promise<string>((resolve) => late.on('message', (_t, p) => resolve(p.toString())));
    await late.subscribeAsync('plant/pump-1/alert/state', { qos: 1 });
    expect(JSON.parse(await retained)).toMatchObject({ state: 'raised', agentId: 'a1', asset: 'pump-1' });
    await late.endAsync();
    sink.send(event('resolved'));
    await new Promise((r) => setTimeout(r, 300));
    const after = await mqtt.connectAsync(broker.url);
    let got = false;
    after.on('message', () => {
      got = true;
    });
    await after.subscribeAsync('plant/pump-1/alert/state', { qos: 1 });
    await new Promise((r) => setTimeout(r, 500));
    expect(got).toBe(false);
    await after.endAsync();
    await sink.close();
  });

  it('posts JSON a chat tool accepts to a webhook and retries a refusal', async () => {
    const bodies: Record<string, unknown>[] = [];
    let calls = 0;
    const server = createServer((req: IncomingMessage, res) => {
      let data = '';
      req.on('data', (c) => {
        data += c;
      });
      req.on('end', () => {
        calls++;
        if (calls === 1) {
          res.statusCode = 503;
          res.end();
          return;
        }
        bodies.push(JSON.parse(data) as Record<string, unknown>);
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const errors: unknown[] = [];
    const sink = new WebhookAlertSink({
      url,
      agentId: 'a1',
      siteId: 's1',
      timeoutMs: 2000,
      retries: 2,
      onError: (e) => errors.push(e),
    });
    sink.send(event('raised'));
    await sink.flush();
    server.close();
    expect(calls).toBe(2);
    expect(errors).toEqual([]);
    expect(bodies[0]).toMatchObject({
      text: 'pump-1: alert (vib.kurtosis 3.1x baseline)',
      agentId: 'a1',
      siteId: 's1',
      state: 'raised',
    });
  });
});
