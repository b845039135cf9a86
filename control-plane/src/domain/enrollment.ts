/** Enrollment with site bootstrap tokens: the rules, kept free of I/O. */
import { isValidId } from './ids.js';

export const TOKEN_TTL_DEFAULT_S = 24 * 3600;
export const TOKEN_TTL_MAX_S = 30 * 24 * 3600;
export const TOKEN_MAX_USES_LIMIT = 10_000;

/** Why an enrollment was refused; counted by code and sent back to the agent. */
export type EnrollRefusalCode =
  | 'invalid_request'
  | 'invalid_token'
  | 'wrong_site'
  | 'token_expired'
  | 'token_revoked'
  | 'token_used_up'
  | 'agent_exists'
  | 'decommissioned';

export interface EnrollRefusal {
  ok: false;
  code: EnrollRefusalCode;
  reason: string;
}

/** A validated enrollment request (the token already hashed). */
export interface EnrollAttempt {
  siteId: string;
  tokenHash: string;
  /** Empty: the control plane chooses. */
  agentId: string;
  lineId: string;
  labels: Record<string, string>;
  nkeyPublic: string;
  agentVersion: string;
}

export interface TokenState {
  siteId: string;
  expiresAtMs: number;
  revokedAtMs: number | undefined;
  uses: number;
  maxUses: number;
}

/** The agent row an enrollment finds under the requested id. */
export interface ExistingAgent {
  siteId: string;
  nkeyPublic: string | undefined;
  decommissioned: boolean;
}

export function refuse(code: EnrollRefusalCode, reason: string): EnrollRefusal {
  return { ok: false, code, reason };
}

/**
 * Whether `token` may enrol an agent at `siteId` now. A re-enrollment of an already enrolled agent
 * (lost reply, restart during enrollment) does not count as a new use, so a used-up token still allows it.
 */
export function tokenRefusal(
  token: TokenState | undefined,
  siteId: string,
  nowMs: number,
  reenrollment: boolean,
): EnrollRefusal | undefined {
  if (!token) return refuse('invalid_token', 'bootstrap token not recognised');
  if (token.siteId !== siteId) return refuse('wrong_site', `bootstrap token is not for site ${siteId}`);
  if (token.revokedAtMs !== undefined) return refuse('token_revoked', 'bootstrap token was revoked');
  if (token.expiresAtMs <= nowMs) return refuse('token_expired', 'bootstrap token expired');
  if (!reenrollment && token.uses >= token.maxUses) {
    return refuse('token_used_up', `bootstrap token already used ${token.uses} of ${token.maxUses} times`);
  }
  return undefined;
}

/** Whether the requested id is free, or taken by this very agent (same site and nkey): then idempotent. */
export function existingAgentRefusal(
  existing: ExistingAgent | undefined,
  a: EnrollAttempt,
): EnrollRefusal | 'new' | 'same' {
  if (!existing) return 'new';
  if (existing.decommissioned) return refuse('decommissioned', `agent ${a.agentId} was decommissioned`);
  if (existing.siteId === a.siteId && existing.nkeyPublic === a.nkeyPublic) return 'same';
  return refuse('agent_exists', `agent id ${a.agentId} is already enrolled with another key`);
}

/** Problems of an enrollment request from an untrusted agent, or undefined when it is acceptable. */
export function enrollRequestProblem(r: Omit<EnrollAttempt, 'tokenHash'>, subjectSite: string): string | undefined {
  if (r.siteId !== subjectSite) return `site_id ${JSON.stringify(r.siteId)} differs from the subject's site`;
  if (r.agentId && !isValidId(r.agentId)) return 'agent_id: letters, digits, _ and - only (max 63)';
  if (r.lineId && !isValidId(r.lineId)) return 'line_id: letters, digits, _ and - only (max 63)';
  if (!/^U[A-Z2-7]{55}$/.test(r.nkeyPublic)) return 'nkey_public: not an nkey user public key';
  if (r.agentVersion.length > 64) return 'agent_version: at most 64 characters';
  return labelsProblem(r.labels);
}

function labelsProblem(labels: Record<string, string>): string | undefined {
  const entries = Object.entries(labels);
  if (entries.length > 64) return 'labels: at most 64';
  const bad = entries.find(([k, v]) => k.length === 0 || k.length > 63 || v.length > 256);
  return bad ? `labels: bad label ${JSON.stringify(bad[0])}` : undefined;
}
