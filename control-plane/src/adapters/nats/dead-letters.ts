import { DeadLetter, subjects } from '@millwright/proto';
import type { JetStreamClient } from '@nats-io/jetstream';

const MAX_KEPT = 64 * 1024;

export type DeadLetterCode =
  | 'decode'
  | 'oversize'
  | 'unknown_subject'
  | 'identity_mismatch'
  | 'invalid'
  | 'unknown_agent'
  | 'decommissioned';

export interface DeadLetterSink {
  send(subject: string, code: DeadLetterCode, reason: string, payload: Uint8Array, agentId?: string): Promise<void>;
}

/** Publishes rejected messages with their reason to MW_DLQ and counts them. */
export class JetStreamDeadLetters implements DeadLetterSink {
  constructor(
    private readonly deps: { js: JetStreamClient; onDeadLetter: (code: DeadLetterCode) => void; now: () => number },
  ) {}

  async send(subject: string, code: DeadLetterCode, reason: string, payload: Uint8Array, agentId = ''): Promise<void> {
    this.deps.onDeadLetter(code);
    const msg = DeadLetter.encode({
      subject,
      code,
      reason,
      payload: Buffer.from(payload.subarray(0, MAX_KEPT)),
      payloadSize: payload.length,
      receivedAtMs: this.deps.now(),
      agentId,
    }).finish();
    await this.deps.js.publish(subjects.dlq.forCode(code), msg);
  }
}
