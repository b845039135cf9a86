import type { Metadata } from '@grpc/grpc-js';
import type { Caller } from '../../audit/ports.js';

/** What every kind of server call offers. */
export interface CallInfo {
  readonly metadata: Metadata;
  getPeer(): string;
}

/**
 * PLACEHOLDER until authentication exists (security issue, #8): the caller names itself in the
 * `x-mw-actor` metadata and nothing checks it. Replace with the identity of the verified API
 * token; every audited RPC gets its actor from here.
 */
export function actorOf(call: Pick<CallInfo, 'metadata'>): string {
  const value = call.metadata.get('x-mw-actor')[0];
  const actor = typeof value === 'string' ? value.trim().slice(0, 200) : '';
  return actor || 'anonymous';
}

/** Actor and peer address of a call, for the audit log. */
export function callerOf(call: CallInfo): Caller {
  return { actor: actorOf(call), source: call.getPeer() };
}
