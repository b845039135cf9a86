import mqtt, { type IConnackPacket, type MqttClient } from 'mqtt';
import { z } from 'zod';
import type { ChannelSpec, SampleSink, Source } from '../../domain/channel.js';
import { ErrorCode, MillwrightError } from '../../domain/errors.js';
import { ChannelSpecSchema, SingleSampleEmitter, toChannelSpec } from '../../ingest/channel-schema.js';
import type { Clock } from '../../ingest/clock.js';
import { decodePayload, type PayloadFormat } from './payload.js';
import { compileFilter, type TopicFilter } from './topic.js';

/** One subscription: every topic matching `filter` feeds `channel`. */
export const MqttTopicSchema = z.object({
  /** MQTT topic filter; `+` and `#` wildcards allowed. */
  filter: z.string().min(1),
  channel: ChannelSpecSchema,
  /** `number`: plain decimal; `json`: JSON number or object; `auto`: either. @default 'auto' */
  format: z.enum(['auto', 'number', 'json']).default('auto'),
  /** Dot path of the value in a JSON object. @default 'value' */
  valuePath: z.string().min(1).default('value'),
  /** Dot path of the timestamp (ms or ISO 8601) in a JSON object. @default 'ts' */
  tsPath: z.string().min(1).default('ts'),
  /** `payload`: the message's own timestamp when it has one, else receipt time; `receipt`: always receipt time. @default 'payload' */
  timestamp: z.enum(['payload', 'receipt']).default('payload'),
});

/** MQTT subscription source. A topic matching several filters feeds the first one listed. */
export const MqttSourceConfigSchema = z.object({
  id: z.string().min(1),
  /** @default 'mqtt://127.0.0.1:1883' */
  url: z.string().min(1).default('mqtt://127.0.0.1:1883'),
  clientId: z.string().min(1).optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  /** @default 0 */
  qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(0),
  /** Delay between reconnect attempts. @default 1000 */
  reconnectPeriodMs: z.number().int().positive().default(1000),
  /** @default 5000 */
  connectTimeoutMs: z.number().int().positive().default(5000),
  /** @default 30 */
  keepaliveS: z.number().int().min(0).default(30),
  topics: z.array(MqttTopicSchema).min(1),
});
export type MqttSourceConfig = z.input<typeof MqttSourceConfigSchema>;

/** Counters and link state of an MQTT source. */
export interface MqttSourceStats {
  connected: boolean;
  subscribed: boolean;
  received: number;
  accepted: number;
  malformed: number;
  unmatched: number;
  reconnects: number;
  errors: number;
  /** Samples the sink threw on. */
  sinkErrors: number;
  lastError?: string;
}

interface Route {
  filter: TopicFilter;
  spec: ChannelSpec;
  format: PayloadFormat;
  useReceipt: boolean;
}

const ROUTE_CACHE_LIMIT = 10_000;

/** Subscribes to MQTT topics and turns each message into a one-sample block of its channel. */
export class MqttSource implements Source {
  readonly id: string;
  readonly channels: readonly ChannelSpec[];
  private readonly config: z.output<typeof MqttSourceConfigSchema>;
  private readonly routes: Route[];
  private readonly routeCache = new Map<string, Route | null>();
  private readonly emitter = new SingleSampleEmitter();
  private readonly counters: MqttSourceStats = emptyStats();
  private client: MqttClient | undefined;
  private sink: SampleSink | undefined;
  private readyWaiters: Array<() => void> = [];

  constructor(
    config: MqttSourceConfig,
    private readonly deps: { clock: Clock },
  ) {
    this.config = MqttSourceConfigSchema.parse(config);
    this.id = this.config.id;
    this.routes = this.config.topics.map((t) => ({
      filter: compileFilter(t.filter),
      spec: toChannelSpec(t.channel),
      format: { format: t.format, valuePath: t.valuePath, tsPath: t.tsPath },
      useReceipt: t.timestamp === 'receipt',
    }));
    this.channels = this.routes.map((r) => r.spec);
  }

  /** Connects in the background and resolves at once; the client keeps reconnecting while the broker is away. */
  async start(sink: SampleSink): Promise<void> {
    if (this.client)
      throw new MillwrightError(ErrorCode.PRECONDITION, `source ${this.id} already started`, { source: this.id });
    this.sink = sink;
    const c = this.config;
    this.client = mqtt.connect(c.url, {
      clientId: c.clientId ?? `mw-${c.id}-${Math.random().toString(16).slice(2, 10)}`,
      username: c.username,
      password: c.password,
      reconnectPeriod: c.reconnectPeriodMs,
      connectTimeout: c.connectTimeoutMs,
      keepalive: c.keepaliveS,
      clean: true,
      resubscribe: false,
    });
    this.client.on('connect', (ack) => this.onConnect(ack));
    this.client.on('reconnect', () => this.counters.reconnects++);
    this.client.on('close', () => {
      this.counters.connected = false;
      this.counters.subscribed = false;
    });
    this.client.on('error', (err) => this.error(err.message));
    this.client.on('message', (topic, payload) => this.onMessage(topic, payload));
  }

  async stop(): Promise<void> {
    this.sink = undefined;
    const client = this.client;
    this.client = undefined;
    await client?.endAsync(true);
  }

  /** Resolves once the subscriptions are in place (after the first successful connect). */
  ready(): Promise<void> {
    if (this.counters.subscribed) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  stats(): MqttSourceStats {
    return { ...this.counters };
  }

  private onConnect(_ack: IConnackPacket): void {
    this.counters.connected = true;
    // clean sessions forget subscriptions, so every (re)connect subscribes again
    const filters = Object.fromEntries(this.routes.map((r) => [r.filter.filter, { qos: this.config.qos }]));
    this.client?.subscribe(filters, (err, granted) => {
      const refused = granted?.filter((g) => g.qos === 128).map((g) => g.topic) ?? [];
      if (err || refused.length > 0) return this.error(err?.message ?? `subscription refused: ${refused.join(', ')}`);
      this.counters.subscribed = true;
      for (const w of this.readyWaiters.splice(0)) w();
    });
  }

  private onMessage(topic: string, payload: Uint8Array): void {
    const sink = this.sink;
    if (!sink) return;
    this.counters.received++;
    const route = this.route(topic);
    if (!route) {
      this.counters.unmatched++;
      return;
    }
    const d = decodePayload(payload, route.format);
    if (!d.ok) {
      this.counters.malformed++;
      this.counters.lastError = `${topic}: ${d.error}`;
      return;
    }
    const tMs = route.useReceipt || d.tsMs === undefined ? this.deps.clock.now() : d.tsMs;
    if (this.emitter.emit(sink, route.spec, tMs, d.value)) this.counters.accepted++;
    else this.counters.sinkErrors++;
  }

  private route(topic: string): Route | undefined {
    let r = this.routeCache.get(topic);
    if (r === undefined) {
      r = this.routes.find((x) => x.filter.matches(topic)) ?? null;
      if (this.routeCache.size >= ROUTE_CACHE_LIMIT) this.routeCache.clear();
      this.routeCache.set(topic, r);
    }
    return r ?? undefined;
  }

  private error(message: string): void {
    this.counters.errors++;
    this.counters.lastError = message;
  }
}

function emptyStats(): MqttSourceStats {
  return {
    connected: false,
    subscribed: false,
    received: 0,
    accepted: 0,
    malformed: 0,
    unmatched: 0,
    reconnects: 0,
    errors: 0,
    sinkErrors: 0,
  };
}
