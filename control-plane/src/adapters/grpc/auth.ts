import type {
  Metadata,
  MethodDefinition,
  ServerErrorResponse,
  UntypedHandleCall,
  UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { AuditLog } from '../../audit/ports.js';
import { InvalidArgumentError, MillwrightError } from '../../domain/errors.js';
import { AuthenticationError, type Identity, PermissionDeniedError } from '../../security/api-tokens.js';
import { methodKey, minimumRole, roleAllows } from '../../security/roles.js';
import { toServiceError } from './errors.js';
import type { GrpcServiceBinding } from './server.js';

/** Stands in for a request that does not decode, so the handler wrapper can refuse it as INVALID_ARGUMENT. */
const MALFORMED = Symbol('millwright.malformed');

/** The verified caller, attached to the call object by the wrapper (read it with `identityOf`). */
const IDENTITY = Symbol('millwright.identity');

type WithIdentity = { [IDENTITY]?: Identity };

/** The identity the auth wrapper verified for this call; undefined on an unwrapped server. */
export function identityOf(call: object): Identity | undefined {
  return (call as WithIdentity)[IDENTITY];
}

/** Reason label of `mw_auth_failures_total`. */
export type AuthFailureReason =
  | AuthenticationError['reason']
  | 'permission_denied'
  | 'unknown_method'
  | 'auth_unavailable';

export interface GrpcAuthDeps {
  /** Verifies a bearer token; absent only when `disabled`. */
  authenticate?: (secret: string | undefined) => Promise<Identity>;
  /**
   * Development switch `auth.disabled`: every call is let through as an admin named by its
   * `x-mw-actor` metadata. Never in production.
   */
  disabled: boolean;
  log: Logger;
  onFailure?: (reason: AuthFailureReason) => void;
  /** Permission refusals of authenticated callers are audited (`auth.denied`). */
  audit?: AuditLog;
  /** Counts requests that do not decode (answered INVALID_ARGUMENT instead of grpc-js's INTERNAL). */
  onMalformed?: (method: string) => void;
}

type Call = { metadata: Metadata; getPeer(): string };

/**
 * Authentication and role checks for every RPC: `wrapService` wraps each method of a service at
 * registration (server.ts), so a service added later is covered without doing anything. The minimum
 * role comes from the one table in security/roles.ts; a method missing there is refused.
 */
export class GrpcAuth {
  constructor(private readonly deps: GrpcAuthDeps) {}

  wrapService(binding: GrpcServiceBinding): GrpcServiceBinding {
    const implementation: UntypedServiceImplementation = {};
    const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
    for (const [key, raw] of Object.entries(binding.definition)) {
      const def = tolerant(raw as MethodDefinition<unknown, unknown>);
      definition[key] = def;
      const handler = binding.implementation[key];
      if (handler) implementation[key] = this.wrap(def, handler);
    }
    return { ...binding, definition: definition as GrpcServiceBinding['definition'], implementation };
  }

  private wrap(def: MethodDefinition<unknown, unknown>, handler: UntypedHandleCall): UntypedHandleCall {
    const h = handler as (...args: unknown[]) => void;
    if (def.responseStream) {
      return ((call: Call & { emit(e: 'error', err: ServerErrorResponse): boolean; request?: unknown }) => {
        this.authorize(def.path, call).then(
          () => (this.malformed(def.path, call.request) ? call.emit('error', this.invalid()) : h(call)),
          (err: unknown) => call.emit('error', toServiceError(err) as ServerErrorResponse),
        );
      }) as UntypedHandleCall;
    }
    return ((call: Call & { request?: unknown }, callback: (err: unknown, res: unknown) => void) => {
      this.authorize(def.path, call).then(
        () => (this.malformed(def.path, call.request) ? callback(this.invalid(), null) : h(call, callback)),
        (err: unknown) => callback(toServiceError(err), null),
      );
    }) as UntypedHandleCall;
  }

  private malformed(path: string, request: unknown): boolean {
    if (!isMalformed(request)) return false;
    this.deps.onMalformed?.(methodKey(path));
    this.deps.log.info({ method: methodKey(path) }, 'rpc.malformed_request');
    return true;
  }

  private invalid(): ServerErrorResponse {
    return toServiceError(
      new InvalidArgumentError('request', 'the request message does not decode'),
    ) as ServerErrorResponse;
  }

  /** Verifies the token and the role, attaching the identity to the call. */
  private async authorize(path: string, call: Call): Promise<void> {
    const method = methodKey(path);
    const identity = await this.identify(method, call);
    const need = minimumRole(path);
    if (need && roleAllows(identity.role, need)) {
      (call as WithIdentity)[IDENTITY] = identity;
      return;
    }
    const reason = need ? 'permission_denied' : 'unknown_method';
    this.fail(reason, method, call, identity.name);
    await this.deps.audit
      ?.record({
        actor: identity.name,
        actorRole: identity.role,
        action: 'auth.denied',
        target: method,
        source: call.getPeer(),
        detail: { need: need ?? 'none' },
      })
      .catch((err: unknown) => this.deps.log.error({ err }, 'auth.audit_failed'));
    throw new PermissionDeniedError(method, identity.role, need);
  }

  private async identify(method: string, call: Call): Promise<Identity> {
    if (this.deps.disabled || !this.deps.authenticate) return devIdentity(call);
    try {
      return await this.deps.authenticate(bearer(call.metadata));
    } catch (err) {
      if (err instanceof AuthenticationError) {
        this.fail(err.reason, method, call);
        throw err;
      }
      this.fail('auth_unavailable', method, call);
      this.deps.log.error({ err, method }, 'auth.unavailable');
      throw err instanceof MillwrightError ? err : new MillwrightError('UNAVAILABLE', 'cannot verify the token now');
    }
  }

  private fail(reason: AuthFailureReason, method: string, call: Call, actor?: string): void {
    this.deps.onFailure?.(reason);
    this.deps.log.warn({ method, reason, peer: call.getPeer(), actor }, 'auth.denied');
  }
}

/** `authorization: Bearer <token>`; undefined when absent. */
function bearer(md: Metadata): string | undefined {
  const v = md.get('authorization')[0];
  if (typeof v !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(v);
  return m ? m[1] : v.trim() ? '?' : undefined;
}

function devIdentity(call: Call): Identity {
  const value = call.metadata.get('x-mw-actor')[0];
  const actor = typeof value === 'string' ? value.trim().slice(0, 200) : '';
  return { tokenId: '', name: actor || 'anonymous', role: 'admin' };
}

function isMalformed(request: unknown): boolean {
  return typeof request === 'object' && request !== null && MALFORMED in request;
}

/**
 * The method with a deserializer that never throws: grpc-js answers a request that does not decode
 * with INTERNAL before any handler runs, which would be neither authenticated first nor counted.
 * Streamed messages that do not decode reach the handler as an empty object it refuses itself.
 */
function tolerant(def: MethodDefinition<unknown, unknown>): MethodDefinition<unknown, unknown> {
  const decode = def.requestDeserialize;
  return {
    ...def,
    requestDeserialize: (bytes: Buffer) => {
      try {
        return decode(bytes);
      } catch {
        return { [MALFORMED]: true };
      }
    },
  };
}
