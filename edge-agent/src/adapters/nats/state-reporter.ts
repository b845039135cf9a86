import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AgentStateReport, ModelStatePhase, subjects } from '@millwright/proto';
import type { JetStreamClient } from '@nats-io/jetstream';
import { assertNever } from '../../domain/errors.js';
import { writeFileAtomic } from '../../fs-atomic.js';
import type { StateReporter, UpdateClock } from '../../update/ports.js';
import type { StateReport, UpdatePhase } from '../../update/types.js';

export function phaseToProto(phase: UpdatePhase): ModelStatePhase {
  switch (phase) {
    case 'idle':
      return ModelStatePhase.MODEL_STATE_PHASE_IDLE;
    case 'downloading':
      return ModelStatePhase.MODEL_STATE_PHASE_DOWNLOADING;
    case 'verifying':
      return ModelStatePhase.MODEL_STATE_PHASE_VERIFYING;
    case 'self_testing':
      return ModelStatePhase.MODEL_STATE_PHASE_SELF_TESTING;
    case 'waiting_window':
      return ModelStatePhase.MODEL_STATE_PHASE_WAITING_WINDOW;
    case 'shadowing':
      return ModelStatePhase.MODEL_STATE_PHASE_SHADOWING;
    case 'active':
      return ModelStatePhase.MODEL_STATE_PHASE_ACTIVE;
    case 'failed':
      return ModelStatePhase.MODEL_STATE_PHASE_FAILED;
    case 'rolled_back':
      return ModelStatePhase.MODEL_STATE_PHASE_ROLLED_BACK;
    default:
      return assertNever(phase);
  }
}

const SEQ_BLOCK = 64;

/**
 * Monotonic `report_seq` that survives restarts without an fsync per report: the file holds a
 * reserved high-water mark, and a restart continues above it (skipping at most one block).
 */
export class PersistedSequence {
  private next = 0;
  private reserved = 0;
  private loaded = false;

  constructor(private readonly path: string) {}

  async take(): Promise<number> {
    if (!this.loaded) await this.load();
    if (this.next >= this.reserved) {
      this.reserved = this.next + SEQ_BLOCK;
      await mkdir(dirname(this.path), { recursive: true });
      await writeFileAtomic(this.path, `${this.reserved}\n`);
    }
    return ++this.next;
  }

  private async load(): Promise<void> {
    const text = await readFile(this.path, 'utf8').catch(() => '0');
    const hw = Number.parseInt(text.trim(), 10);
    this.next = this.reserved = Number.isSafeInteger(hw) && hw > 0 ? hw : 0;
    this.loaded = true;
  }
}

export interface StateReporterDeps {
  /** Current JetStream client; throws while offline (reports queue and retry). */
  js: () => JetStreamClient;
  siteId: string;
  agentId: string;
  seq: PersistedSequence;
  clock: UpdateClock;
  /** Per publish. @default 5000 */
  timeoutMs?: number;
  /** Reports kept while offline; the oldest are dropped beyond it. @default 256 */
  maxQueued?: number;
  onError: (err: unknown) => void;
}

interface Pending {
  report: StateReport;
  seq?: number;
}

/**
 * Publishes AgentStateReport on the agent's `.state` subject through JetStream, in order, retrying
 * with back-off while offline. `report` never blocks; the message id `<agent>:state:<seq>` lets
 * the stream drop a duplicate after a retry whose ack was lost.
 */
export class JetStreamStateReporter implements StateReporter {
  private readonly queue: Pending[] = [];
  private readonly subject: string;
  private pumping: Promise<void> | undefined;
  private readonly abort = new AbortController();
  dropped = 0;

  constructor(private readonly deps: StateReporterDeps) {
    this.subject = subjects.edge.state(deps.siteId, deps.agentId);
  }

  report(report: StateReport): void {
    this.queue.push({ report });
    if (this.queue.length > (this.deps.maxQueued ?? 256)) {
      this.queue.shift();
      this.dropped++;
    }
    this.pumping ??= this.pump().finally(() => {
      this.pumping = undefined;
    });
  }

  /** Tries to deliver what is queued until `deadlineMs` passes, then gives up. */
  async stop(deadlineMs = 2000): Promise<void> {
    const timer = setTimeout(() => this.abort.abort(new Error('state reporter stopped')), deadlineMs);
    await this.pumping;
    clearTimeout(timer);
    this.abort.abort(new Error('state reporter stopped'));
  }

  private async pump(): Promise<void> {
    let delay = 250;
    while (this.queue.length > 0 && !this.abort.signal.aborted) {
      const head = this.queue[0]!;
      try {
        head.seq ??= await this.deps.seq.take();
        await this.publish(head.report, head.seq);
        if (this.queue[0] === head) this.queue.shift();
        delay = 250;
      } catch (err) {
        this.deps.onError(err);
        await this.deps.clock.sleep(delay, this.abort.signal).catch(() => undefined);
        delay = Math.min(delay * 2, 30_000);
      }
    }
  }

  private async publish(r: StateReport, reportSeq: number): Promise<void> {
    const msg = AgentStateReport.encode({
      agentId: this.deps.agentId,
      siteId: this.deps.siteId,
      reportSeq,
      state: { phase: phaseToProto(r.phase), version: r.version, reason: r.reason, sinceMs: r.atMs },
      desiredGeneration: r.desiredGeneration,
      rolloutId: r.rolloutId,
      previousVersion: r.previousVersion,
      atMs: r.atMs,
      configGeneration: r.configGeneration ?? 0,
      configError: r.configError ?? '',
    }).finish();
    const msgID = `${this.deps.agentId}:state:${reportSeq}`;
    await this.deps.js().publish(this.subject, msg, { msgID, timeout: this.deps.timeoutMs ?? 5000 });
  }
}
