import { randomUUID } from 'node:crypto';
import { type BufferStatus, Heartbeat, type ResourceUsage, subjects } from '@millwright/proto';
import type { NatsLink } from './link.js';

export interface HeartbeatSource {
  runningModelVersion(): string;
  buffer(): BufferStatus | undefined;
  resources(): ResourceUsage | undefined;
}

export interface HeartbeatIdentity {
  agentId: string;
  siteId: string;
  lineId: string;
  labels: Record<string, string>;
  agentVersion: string;
}

/**
 * Publishes a heartbeat every interval on the agent's own subject (core NATS publish: a missed one
 * only matters as absence, which is what health measures). The first one announces the agent.
 */
export class HeartbeatPublisher {
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly bootId = randomUUID();
  private readonly startedAtMs = Date.now();
  private readonly subject: string;

  constructor(
    private readonly deps: {
      link: NatsLink;
      id: HeartbeatIdentity;
      source: HeartbeatSource;
      intervalMs: number;
      now: () => number;
    },
  ) {
    this.subject = subjects.edge.heartbeat(deps.id.siteId, deps.id.agentId);
  }

  start(): void {
    this.beat();
    this.timer = setInterval(() => this.beat(), this.deps.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private beat(): void {
    const { id, source } = this.deps;
    const msg = Heartbeat.encode({
      agentId: id.agentId,
      siteId: id.siteId,
      lineId: id.lineId,
      labels: id.labels,
      agentVersion: id.agentVersion,
      runningModelVersion: source.runningModelVersion(),
      sentAtMs: this.deps.now(),
      heartbeatSeq: ++this.seq,
      announce: this.seq === 1,
      startedAtMs: this.startedAtMs,
      resources: source.resources(),
      buffer: source.buffer(),
      bootId: this.bootId,
    }).finish();
    // Before the first connection there is no one to tell; after it, the client buffers publishes
    // while reconnecting, which is fine for heartbeats.
    if (this.deps.link.connected) this.deps.link.connection().publish(this.subject, msg);
  }
}
