import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import {
  type EnrollAttempt,
  type EnrollRefusal,
  type EnrollRefusalCode,
  enrollRequestProblem,
  refuse,
} from '../domain/enrollment.js';
import type { AgentCredentialIssuer } from './credentials.js';
import type { Clock } from './ports.js';
import type { EnrollmentStore } from './registry-ports.js';
import { hashToken } from './tokens.js';

/** An enrollment request as the NATS adapter decoded it (the token still in clear). */
export type EnrollInput = Omit<EnrollAttempt, 'tokenHash'> & { bootstrapToken: string };

export type EnrollReply =
  | { ok: true; agentId: string; siteId: string; natsUserJwt: string; trustKeys: string[]; reenrolled: boolean }
  | EnrollRefusal;

export interface EnrollmentDeps {
  store: EnrollmentStore;
  credentials: AgentCredentialIssuer;
  clock: Clock;
  log: Logger;
  /** Counts outcomes: `enrolled`, `reenrolled` or a refusal code. */
  onOutcome?: (outcome: 'enrolled' | 'reenrolled' | EnrollRefusalCode) => void;
}

/** Answers agents' enrollment requests: one-time registration with a site bootstrap token. */
export class EnrollmentService {
  constructor(private readonly deps: EnrollmentDeps) {}

  async enroll(input: EnrollInput, subjectSite: string, source: string): Promise<EnrollReply> {
    const reply = await this.decide(input, subjectSite, source);
    this.report(reply, input, subjectSite);
    return reply;
  }

  private async decide(input: EnrollInput, subjectSite: string, source: string): Promise<EnrollReply> {
    const { bootstrapToken, ...rest } = input;
    const problem = enrollRequestProblem(rest, subjectSite);
    if (problem) return refuse('invalid_request', problem);
    if (!bootstrapToken) return refuse('invalid_token', 'bootstrap_token is required');
    const agentId = rest.agentId || chooseAgentId(rest.siteId);
    const attempt = { ...rest, agentId, tokenHash: hashToken(bootstrapToken) };
    const audit = {
      actor: `agent:${agentId}`,
      source,
      action: 'agent.enroll',
      target: agentId,
      detail: auditDetail(attempt),
    };
    const outcome = await this.deps.store.enroll(attempt, this.deps.clock.now(), audit);
    if (!outcome.ok) return outcome;
    const binding = { agentId, siteId: attempt.siteId, nkeyPublic: attempt.nkeyPublic };
    const { natsUserJwt } = await this.deps.credentials.issue(binding);
    const trustKeys = await this.deps.store.trustKeys();
    return { ok: true, agentId, siteId: attempt.siteId, natsUserJwt, trustKeys, reenrolled: outcome.reenrolled };
  }

  private report(reply: EnrollReply, input: EnrollInput, subjectSite: string): void {
    const who = { siteId: subjectSite, agentId: input.agentId };
    if (reply.ok) {
      this.deps.onOutcome?.(reply.reenrolled ? 'reenrolled' : 'enrolled');
      this.deps.log.info({ ...who, agentId: reply.agentId, reenrolled: reply.reenrolled }, 'fleet.enroll.accepted');
      return;
    }
    this.deps.onOutcome?.(reply.code);
    this.deps.log.warn({ ...who, code: reply.code, reason: reply.reason }, 'fleet.enroll.refused');
  }
}

function chooseAgentId(siteId: string): string {
  return `${siteId.slice(0, 50)}-${randomBytes(6).toString('hex')}`;
}

function auditDetail(a: EnrollAttempt & { agentId: string }): Record<string, unknown> {
  return {
    siteId: a.siteId,
    lineId: a.lineId,
    labels: a.labels,
    nkeyPublic: a.nkeyPublic,
    agentVersion: a.agentVersion,
  };
}
