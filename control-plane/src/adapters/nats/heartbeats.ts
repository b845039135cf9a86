import { Heartbeat, subjects } from '@millwright/proto';
import type { Consumer, JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import type { BufferStatus, HeartbeatInfo } from '../../domain/fleet.js';
import type { FleetStore } from '../../fleet/ports.js';
import { ConsumeLoop } from './consume-loop.js';
import type { DeadLetterSink } from './dead-letters.js';

export interface HeartbeatIngestDeps {
  consumer: Consumer;
  store: FleetStore;
  deadLetters: DeadLetterSink;
  log: Logger;
  now: () => number;
  flushMs: number;
  maxMessageBytes: number;
  autoRegister: boolean;
  /** Agents per write (one transaction): a backlog is written in several, so no write grows without bound. @default 5000 */
  maxAgentsPerWrite?: number;
  /** Called after each write with the number of agents and its duration. */
  onFlush?: (count: number, ms: number) => void;
  /** Called with the heartbeats a flush applied, before acking (the fleet timeline records announces). */
  onApplied?: (beats: HeartbeatInfo[]) => Promise<void>;
}

interface Pending {
  info: HeartbeatInfo;
  msgs: JsMsg[];
}

/**
 * Consumes heartbeats (a queue over all replicas: one durable pull consumer), coalesces them per
 * agent in memory and writes them per flush (`PostgresFleetStore`: one liveness upsert per write);
 * messages are acked only after the write commits.
 */
export class HeartbeatIngest {
  private pending = new Map<string, Pending>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  private readonly pull: ConsumeLoop;

  constructor(private readonly deps: HeartbeatIngestDeps) {
    this.pull = new ConsumeLoop({
      consumer: deps.consumer,
      maxMessages: 2000,
      yieldEvery: 256,
      log: deps.log,
      failureEvent: 'ingest.heartbeats.consume_failed',
      onMessage: (m) => this.accept(m),
    });
  }

  start(): void {
    this.timer = setInterval(() => {
      this.flushing = this.flushing.then(() => this.flush());
    }, this.deps.flushMs);
    this.pull.start();
  }

  /** Stops pulling, then writes and acks what was already received. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.pull.stop();
    await this.flushing;
    await this.flush();
  }

  private async accept(m: JsMsg): Promise<void> {
    const parsed = parseHeartbeat(m.subject, m.data, this.deps.maxMessageBytes, this.deps.now());
    if (!parsed.ok) {
      await this.deps.deadLetters.send(m.subject, parsed.code, parsed.reason, m.data, parsed.agentId);
      m.term();
      return;
    }
    const prev = this.pending.get(parsed.info.agentId);
    // Coalescing must not swallow an announce: the timeline records process starts from it.
    const announce = parsed.info.announce || prev?.info.announce === true;
    if (prev && !isNewer(parsed.info, prev.info)) {
      prev.msgs.push(m);
      if (announce && !prev.info.announce) prev.info = { ...prev.info, announce };
      return;
    }
    const info = announce === parsed.info.announce ? parsed.info : { ...parsed.info, announce };
    this.pending.set(parsed.info.agentId, { info, msgs: prev ? [...prev.msgs, m] : [m] });
  }

  /** Writes what was received so far, in chunks of `maxAgentsPerWrite` (one transaction each). */
  private async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    const chunk = this.deps.maxAgentsPerWrite ?? 5000;
    for (let i = 0; i < batch.length; i += chunk) await this.write(batch.slice(i, i + chunk));
  }

  private async write(batch: Pending[]): Promise<void> {
    const started = Date.now();
    try {
      const infos = batch.map((p) => p.info);
      const res = await this.deps.store.upsertHeartbeats(infos, { autoRegister: this.deps.autoRegister });
      const unknown = new Set(res.unknownAgents);
      const gone = new Set(res.decommissionedAgents);
      await this.deps.onApplied?.(infos.filter((i) => !unknown.has(i.agentId) && !gone.has(i.agentId)));
      for (let i = 0; i < batch.length; i++) {
        const p = batch[i]!;
        const agentId = p.info.agentId;
        // Acking thousands of messages is one synchronous run: let API calls in between.
        if (i > 0 && i % 1000 === 0) await new Promise<void>((r) => setImmediate(r));
        if (unknown.has(agentId) || gone.has(agentId)) {
          const last = p.msgs.at(-1)!;
          await this.deps.deadLetters.send(
            last.subject,
            gone.has(agentId) ? 'decommissioned' : 'unknown_agent',
            gone.has(agentId) ? `agent ${agentId} is decommissioned` : `agent ${agentId} is not enrolled`,
            last.data,
            agentId,
          );
          for (const m of p.msgs) m.term();
        } else {
          for (const m of p.msgs) m.ack();
        }
      }
      this.deps.onFlush?.(batch.length, Date.now() - started);
    } catch (err) {
      // Not acked: JetStream redelivers after ack_wait; nothing is lost.
      for (const p of batch) for (const m of p.msgs) m.nak(1000);
      this.deps.log.warn({ err, agents: batch.length }, 'ingest.heartbeats.flush_failed');
    }
  }
}

function isNewer(a: HeartbeatInfo, b: HeartbeatInfo): boolean {
  return a.bootId !== b.bootId ? a.sentAtMs >= b.sentAtMs : a.heartbeatSeq > b.heartbeatSeq;
}

type Parsed =
  | { ok: true; info: HeartbeatInfo }
  | {
      ok: false;
      code: 'decode' | 'oversize' | 'identity_mismatch' | 'invalid' | 'unknown_subject';
      reason: string;
      agentId?: string;
    };

/** Validates one heartbeat from untrusted edge input; the subject is the identity, the payload must agree. */
export function parseHeartbeat(subject: string, data: Uint8Array, maxBytes: number, nowMs: number): Parsed {
  const who = subjects.parseEdgeSubject(subject);
  if (who?.kind !== 'hb') return { ok: false, code: 'unknown_subject', reason: `not a heartbeat subject: ${subject}` };
  if (data.length > maxBytes)
    return { ok: false, code: 'oversize', reason: `${data.length} bytes > ${maxBytes}`, agentId: who.agent };
  let hb: Heartbeat;
  try {
    hb = Heartbeat.decode(data);
  } catch (err) {
    return { ok: false, code: 'decode', reason: `malformed Heartbeat: ${(err as Error).message}`, agentId: who.agent };
  }
  if (hb.agentId !== who.agent || hb.siteId !== who.site) {
    return {
      ok: false,
      code: 'identity_mismatch',
      reason: `payload says ${hb.siteId}/${hb.agentId}, subject says ${who.site}/${who.agent}`,
      agentId: who.agent,
    };
  }
  if (Object.keys(hb.labels).length > 64)
    return { ok: false, code: 'invalid', reason: 'more than 64 labels', agentId: who.agent };
  return { ok: true, info: toInfo(hb, nowMs) };
}

function toInfo(hb: Heartbeat, nowMs: number): HeartbeatInfo {
  const b = hb.buffer;
  const buffer: BufferStatus | undefined = b && {
    unsentRecords: b.unsentRecords,
    uncommittedRecords: b.uncommittedRecords,
    bytesOnDisk: b.bytesOnDisk,
    capacityBytes: b.capacityBytes,
    headSeq: b.headSeq,
    committedSeq: b.committedSeq,
    lastSyncMs: b.lastSyncMs,
    droppedByClass: b.droppedByClass,
  };
  return {
    agentId: hb.agentId,
    siteId: hb.siteId,
    lineId: hb.lineId,
    labels: hb.labels,
    agentVersion: hb.agentVersion,
    runningModelVersion: hb.runningModelVersion,
    sentAtMs: hb.sentAtMs,
    heartbeatSeq: hb.heartbeatSeq,
    bootId: hb.bootId,
    startedAtMs: hb.startedAtMs,
    announce: hb.announce,
    resources: hb.resources,
    buffer,
    receivedAtMs: nowMs,
  };
}
