import { subjects } from '@millwright/proto';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { type NatsConnection, nanos } from '@nats-io/transport-node';

const { STREAMS, CONSUMERS, KV, edge, dlq, events } = subjects;
const DAY_MS = 24 * 3600 * 1000;

/** The streams the control plane owns; created or updated idempotently at start. */
export function streamConfigs(replicas: number): (Partial<StreamConfig> & { name: string })[] {
  const base = { storage: StorageType.File, num_replicas: replicas, discard: DiscardPolicy.Old };
  return [
    {
      ...base,
      name: STREAMS.heartbeats,
      subjects: [edge.anyHeartbeat],
      max_msgs_per_subject: 1,
      max_age: nanos(DAY_MS),
    },
    {
      ...base,
      name: STREAMS.records,
      subjects: [edge.anyRecords],
      duplicate_window: nanos(2 * 60_000),
      max_age: nanos(7 * DAY_MS),
      max_bytes: 8 * 1024 ** 3,
      max_msg_size: 4 * 1024 * 1024,
    },
    { ...base, name: STREAMS.state, subjects: [edge.anyState], max_msgs_per_subject: 64, max_age: nanos(7 * DAY_MS) },
    { ...base, name: STREAMS.deadLetters, subjects: [dlq.any], max_age: nanos(14 * DAY_MS), max_bytes: 1024 ** 3 },
    {
      ...base,
      name: STREAMS.events,
      subjects: [events.any],
      max_age: nanos(30 * DAY_MS),
      retention: RetentionPolicy.Limits,
    },
  ];
}

export async function ensureTopology(nc: NatsConnection, jsm: JetStreamManager, replicas: number): Promise<void> {
  for (const cfg of streamConfigs(replicas)) {
    try {
      await jsm.streams.info(cfg.name!);
      await jsm.streams.update(cfg.name!, cfg);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await jsm.streams.add(cfg);
    }
  }
  const durable = (name: string) => ({
    durable_name: name,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(30_000),
    max_ack_pending: 20_000,
    max_deliver: -1,
  });
  await jsm.consumers.add(STREAMS.heartbeats, durable(CONSUMERS.heartbeats));
  await jsm.consumers.add(STREAMS.records, durable(CONSUMERS.records));
  await jsm.consumers.add(STREAMS.state, durable(CONSUMERS.state));
  const kvm = new Kvm(nc);
  // allow_direct: agents read their own key by direct get, which permissions can scope to the key.
  await kvm.create(KV.desired, { history: 16, replicas, allow_direct: true });
  await kvm.create(KV.watermark, { history: 1, replicas, allow_direct: true });
}

function isNotFound(err: unknown): boolean {
  return err instanceof Error && /not found/i.test(err.message);
}

/**
 * Re-runs `ensureTopology` after every reconnect, until the connection closes. A broker that lost
 * its store (a wiped or rebuilt node) comes back without streams, consumers and buckets: agents'
 * publishes and this replica's pulls would fail until someone recreated them. Idempotent otherwise.
 */
export async function keepTopology(
  nc: NatsConnection,
  jsm: JetStreamManager,
  replicas: number,
  hooks: { onEnsured: () => void; onError: (err: unknown) => void; retryMs?: number },
): Promise<void> {
  for await (const s of nc.status()) {
    if (s.type !== 'reconnect') continue;
    // JetStream may answer only a moment after the server accepts clients: retry until it does.
    while (!nc.isClosed()) {
      try {
        await ensureTopology(nc, jsm, replicas);
        hooks.onEnsured();
        break;
      } catch (err) {
        hooks.onError(err);
        await new Promise((r) => setTimeout(r, hooks.retryMs ?? 1000));
      }
    }
  }
}
