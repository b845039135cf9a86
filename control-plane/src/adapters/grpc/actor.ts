import type { Metadata } from '@grpc/grpc-js';
import type { Caller } from '../../audit/ports.js';
import { identityOf } from './auth.js';

/** What every kind of server call offers. */
export interface CallInfo {
  readonly metadata: Metadata;
  getPeer(): string;
}

/**
 * The authenticated caller: the name of the API token the auth wrapper verified (adapters/grpc/auth.ts).
 * Only with the development switch `auth.disabled` does the wrapper take the name from the
 * client's `x-mw-actor` metadata. A call that never went through the wrapper is `anonymous`.
 */
export function actorOf(call: Pick<CallInfo, 'metadata'>): string {
  return identityOf(call)?.name ?? 'anonymous';
}

/** Actor, role and peer address of a call, for the audit log. */
export function callerOf(call: CallInfo): Caller {
  const id = identityOf(call);
  return { actor: id?.name ?? 'anonymous', source: call.getPeer(), ...(id ? { actorRole: id.role } : {}) };
}
