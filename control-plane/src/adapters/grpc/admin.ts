import {
  AdminServiceService,
  type ApiToken as ApiTokenPb,
  type AuditEvent as AuditEventPb,
  type CreateApiTokenRequest,
  type CreateApiTokenResponse,
  type ListApiTokensRequest,
  type ListApiTokensResponse,
  type ListAuditEventsRequest,
  type ListAuditEventsResponse,
  type RevokeApiTokenRequest,
  Role as RolePb,
  type WhoAmIResponse,
} from '@millwright/proto';
import type { Logger } from 'pino';
import { InvalidArgumentError } from '../../domain/errors.js';
import { type ApiTokenService, page } from '../../security/api-tokens.js';
import type { ApiTokenRecord, AuditEvent, AuditQuery } from '../../security/ports.js';
import type { Role } from '../../security/roles.js';
import { actorOf, callerOf } from './actor.js';
import { identityOf } from './auth.js';
import { unary } from './handlers.js';
import type { GrpcServiceBinding } from './server.js';

const TO_PB: Record<Role, RolePb> = {
  viewer: RolePb.ROLE_VIEWER,
  trainer: RolePb.ROLE_TRAINER,
  platform: RolePb.ROLE_PLATFORM,
  admin: RolePb.ROLE_ADMIN,
};

export function roleToPb(role: string): RolePb {
  return TO_PB[role as Role] ?? RolePb.ROLE_UNSPECIFIED;
}

function roleFromPb(role: RolePb): Role {
  const found = (Object.keys(TO_PB) as Role[]).find((r) => TO_PB[r] === role);
  if (!found) throw new InvalidArgumentError('role', 'one of ROLE_VIEWER, ROLE_TRAINER, ROLE_PLATFORM, ROLE_ADMIN');
  return found;
}

function tokenToPb(t: ApiTokenRecord): ApiTokenPb {
  return {
    id: t.id,
    name: t.name,
    role: roleToPb(t.role),
    createdAtMs: t.createdAtMs,
    expiresAtMs: t.expiresAtMs ?? 0,
    revoked: t.revokedAtMs !== undefined,
    createdBy: t.createdBy,
  };
}

function eventToPb(e: AuditEvent): AuditEventPb {
  return {
    id: e.id,
    atMs: e.atMs,
    actor: e.actor,
    actorRole: roleToPb(e.actorRole),
    action: e.action,
    target: e.target,
    detailJson: JSON.stringify(e.detail),
    source: e.source,
    reason: e.reason,
  };
}

/** AdminService: who am I, API tokens and the audit log. Roles are enforced by the auth wrapper. */
export function adminServiceBinding(deps: {
  tokens: ApiTokenService;
  audit: AuditQuery;
  log: Logger;
}): GrpcServiceBinding {
  const { tokens, audit, log } = deps;
  return {
    name: 'millwright.v1.AdminService',
    definition: AdminServiceService,
    implementation: {
      whoAmI: unary<unknown, WhoAmIResponse>(log, 'WhoAmI', async (_req, call) => ({
        actor: actorOf(call),
        role: roleToPb(identityOf(call)?.role ?? ''),
      })),
      createApiToken: unary<CreateApiTokenRequest, CreateApiTokenResponse>(log, 'CreateApiToken', async (req, call) => {
        const role = roleFromPb(req.role);
        const res = await tokens.create({ name: req.name, role, ttlS: req.ttlS }, callerOf(call));
        return { token: tokenToPb(res.token), secret: res.secret };
      }),
      listApiTokens: unary<ListApiTokensRequest, ListApiTokensResponse>(log, 'ListApiTokens', async (req) => {
        const res = await tokens.list(req.page?.pageSize ?? 0, req.page?.pageToken ?? '');
        return { tokens: res.tokens.map(tokenToPb), page: { nextPageToken: res.nextPageToken, total: res.total } };
      }),
      revokeApiToken: unary<RevokeApiTokenRequest, ApiTokenPb>(log, 'RevokeApiToken', async (req, call) =>
        tokenToPb(await tokens.revoke(req.id, callerOf(call))),
      ),
      listAuditEvents: unary<ListAuditEventsRequest, ListAuditEventsResponse>(log, 'ListAuditEvents', async (req) => {
        const { limit, offset } = page(req.page?.pageSize ?? 0, req.page?.pageToken ?? '');
        const filter = {
          actor: req.actor || undefined,
          actionPrefix: req.actionPrefix || undefined,
          sinceMs: req.sinceMs || undefined,
        };
        const res = await audit.list(filter, limit, offset);
        const next = offset + res.events.length < res.total ? String(offset + res.events.length) : '';
        return { events: res.events.map(eventToPb), page: { nextPageToken: next, total: res.total } };
      }),
    },
  };
}
