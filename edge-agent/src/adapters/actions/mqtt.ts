import mqtt, { type MqttClient } from 'mqtt';
import type { AlertEvent } from '../../domain/prediction.js';

/**
 * Publishes alert transitions to a local MQTT topic (`<prefix>/<asset>/alert`, QoS 1), and the
 * current state retained on `<prefix>/<asset>/alert/state` (cleared on resolve) so a PLC gateway
 * that reconnects sees whether an alert is open.
 */
export class MqttAlertSink {
  private readonly client: MqttClient;

  constructor(
    private readonly deps: { url: string; topicPrefix: string; agentId: string; onError: (err: unknown) => void },
  ) {
    this.client = mqtt.connect(deps.url, { clientId: `mw-agent-${deps.agentId}-alerts`, reconnectPeriod: 2000 });
    this.client.on('error', deps.onError);
  }

  send(e: AlertEvent): void {
    const topic = `${this.deps.topicPrefix}/${e.asset}/alert`;
    const payload = JSON.stringify({ agentId: this.deps.agentId, ...e });
    this.client.publish(topic, payload, { qos: 1, retain: false });
    this.client.publish(`${topic}/state`, e.state === 'raised' ? payload : '', { qos: 1, retain: true });
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}
