import { AgentStateReport, ModelStatePhase, modelStatePhaseToJSON, subjects } from '@millwright/proto';
import type { Consumer, JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import type { StateReportRow } from '../postgres/state-store.js';
import { ConsumeLoop } from './consume-loop.js';
import type { DeadLetterSink } from './dead-letters.js';

export interface StateIngestDeps {
  consumer: Consumer;
  store: { apply(reports: StateReportRow[]): Promise<number> };
  deadLetters: DeadLetterSink;
  log: Logger;
  /** Reports are stored in groups: one transaction at least this often… @default 50 */
  flushMs?: number;
  /** …or as soon as this many wait. @default 2000 */
  flushReports?: number;
  onApplied?: (n: number, ms: number) => void;
}

type Parsed =
  | { ok: true; row: StateReportRow }
  | { ok: false; code: 'decode' | 'identity_mismatch' | 'invalid'; reason: string };

/** Validates one report against its subject (the subject is the identity). */
export function parseStateReport(subject: string, data: Uint8Array): Parsed {
  const where = subjects.parseEdgeSubject(subject);
  if (where?.kind !== 'state') return { ok: false, code: 'invalid', reason: `not a state subject: ${subject}` };
  let r: AgentStateReport;
  try {
    r = AgentStateReport.decode(data);
  } catch (err) {
    return { ok: false, code: 'decode', reason: (err as Error).message };
  }
  if (r.agentId !== where.agent || r.siteId !== where.site) {
    return {
      ok: false,
      code: 'identity_mismatch',
      reason: `report names ${r.siteId}/${r.agentId}, subject ${where.site}/${where.agent}`,
    };
  }
  const phase = r.state?.phase ?? ModelStatePhase.MODEL_STATE_PHASE_UNSPECIFIED;
  if (phase === ModelStatePhase.MODEL_STATE_PHASE_UNSPECIFIED || !(phase in ModelStatePhase)) {
    return { ok: false, code: 'invalid', reason: 'state.phase is unspecified' };
  }
  if (r.reportSeq < 1) return { ok: false, code: 'invalid', reason: 'report_seq must be >= 1' };
  return {
    ok: true,
    row: {
      agentId: r.agentId,
      siteId: r.siteId,
      reportSeq: r.reportSeq,
      atMs: r.atMs || Date.now(),
      phase: modelStatePhaseToJSON(phase).replace('MODEL_STATE_PHASE_', '').toLowerCase(),
      version: r.state?.version ?? '',
      previousVersion: r.previousVersion,
      reason: (r.state?.reason ?? '').slice(0, 2000),
      rolloutId: r.rolloutId,
      desiredGeneration: r.desiredGeneration,
      configGeneration: r.configGeneration,
      ...(r.configError ? { configError: r.configError.slice(0, 2000) } : {}),
    },
  };
}

/**
 * Consumes MW_STATE (durable `cp-state`, shared by every replica) into Postgres in batches; messages
 * are acked only after their transaction commits, so a crash redelivers and the store deduplicates.
 */
export class StateIngest {
  private pending: { row: StateReportRow; msg: JsMsg }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  private readonly pull: ConsumeLoop;

  constructor(private readonly deps: StateIngestDeps) {
    this.pull = new ConsumeLoop({
      consumer: deps.consumer,
      maxMessages: 5000,
      log: deps.log,
      failureEvent: 'ingest.state.consume_failed',
      onMessage: (m) => this.accept(m),
    });
  }

  start(): void {
    this.timer = setInterval(() => this.schedule(), this.deps.flushMs ?? 50);
    this.pull.start();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.pull.stop();
    this.schedule();
    await this.flushing;
  }

  private schedule(): void {
    this.flushing = this.flushing.then(() => this.flush());
  }

  private async accept(m: JsMsg): Promise<void> {
    const parsed = parseStateReport(m.subject, m.data);
    if (!parsed.ok) {
      await this.deps.deadLetters.send(m.subject, parsed.code, parsed.reason, m.data);
      m.term();
      return;
    }
    this.pending.push({ row: parsed.row, msg: m });
    if (this.pending.length >= (this.deps.flushReports ?? 2000)) {
      this.schedule();
      await this.flushing;
    }
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    const started = performance.now();
    try {
      const n = await this.deps.store.apply(batch.map((b) => b.row));
      for (const b of batch) b.msg.ack();
      this.deps.onApplied?.(n, performance.now() - started);
    } catch (err) {
      this.deps.log.warn({ err, reports: batch.length }, 'ingest.state.flush_failed');
      for (const b of batch) b.msg.nak(1000);
    }
  }
}
