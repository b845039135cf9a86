import type { ServerUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import {
  type Agent as AgentPb,
  type CreateBootstrapTokenRequest,
  type CreateBootstrapTokenResponse,
  type CreateSiteRequest,
  type DecommissionAgentRequest,
  FleetServiceService,
  type GetAgentHistoryRequest,
  type GetAgentHistoryResponse,
  type GetAgentRequest,
  type GetSiteRequest,
  type ListAgentsRequest,
  type ListAgentsResponse,
  type ListSitesRequest,
  type ListSitesResponse,
  type RevokeBootstrapTokenRequest,
  type RevokeBootstrapTokenResponse,
  type SetAgentPinnedRequest,
  type Site as SitePb,
  type StopAllRolloutsRequest,
  type StopAllRolloutsResponse,
  type UpdateSiteRequest,
} from '@millwright/proto';
import type { Logger } from 'pino';
import type { Caller } from '../../audit/ports.js';
import type { AgentAdminService } from '../../fleet/agent-admin.js';
import type { FleetService } from '../../fleet/service.js';
import type { SiteService } from '../../fleet/sites.js';
import type { BootstrapTokenService } from '../../fleet/tokens.js';
import { callerOf as callerOfCall } from './actor.js';
import { agentToPb, healthFromPb, historyEntryToPb, siteFromPb, siteToPb } from './fleet-mappers.js';
import { unary } from './handlers.js';
import type { GrpcServiceBinding } from './server.js';

export { agentToPb } from './fleet-mappers.js';

export interface FleetBindingDeps {
  fleet: FleetService;
  /** The write side; when absent (older wiring) those RPCs answer UNIMPLEMENTED. */
  admin?: AgentAdminService;
  sites?: SiteService;
  tokens?: BootstrapTokenService;
  /** Fleet-wide emergency stop of rollouts (rollouts/service.ts stopAll); returns how many were paused. */
  stopAllRollouts?: (reason: string, caller: Caller) => Promise<number>;
  log: Logger;
}

function callerOf(call: ServerUnaryCall<unknown, unknown>): Caller {
  return callerOfCall(call);
}

function readHandlers(deps: FleetBindingDeps): UntypedServiceImplementation {
  const { fleet, log } = deps;
  return {
    listAgents: unary<ListAgentsRequest, ListAgentsResponse>(log, 'ListAgents', async (req) => {
      const filter = {
        siteId: req.siteId || undefined,
        lineId: req.lineId || undefined,
        labels: req.labels,
        health: healthFromPb(req.health),
      };
      const res = await fleet.listAgents(filter, req.page?.pageSize ?? 0, req.page?.pageToken ?? '');
      return { agents: res.agents.map(agentToPb), page: { nextPageToken: res.nextPageToken, total: res.total } };
    }),
    getAgent: unary<GetAgentRequest, AgentPb>(log, 'GetAgent', async (req) => agentToPb(await fleet.getAgent(req.id))),
  };
}

function agentHandlers(admin: AgentAdminService, log: Logger): UntypedServiceImplementation {
  return {
    getAgentHistory: unary<GetAgentHistoryRequest, GetAgentHistoryResponse>(log, 'GetAgentHistory', async (req) => ({
      entries: (await admin.history(req.id, req.sinceMs, req.limit)).map(historyEntryToPb),
    })),
    decommissionAgent: unary<DecommissionAgentRequest, AgentPb>(log, 'DecommissionAgent', async (req, call) =>
      agentToPb(await admin.decommission(req.id, req.reason, callerOf(call))),
    ),
    setAgentPinned: unary<SetAgentPinnedRequest, AgentPb>(log, 'SetAgentPinned', async (req, call) =>
      agentToPb(await admin.setPinned(req.id, req.pinned, req.reason, callerOf(call))),
    ),
  };
}

function siteHandlers(sites: SiteService, log: Logger): UntypedServiceImplementation {
  return {
    listSites: unary<ListSitesRequest, ListSitesResponse>(log, 'ListSites', async (req) => {
      const res = await sites.listSites(req.page?.pageSize ?? 0, req.page?.pageToken ?? '');
      return { sites: res.sites.map(siteToPb), page: { nextPageToken: res.nextPageToken, total: res.total } };
    }),
    getSite: unary<GetSiteRequest, SitePb>(log, 'GetSite', async (req) => siteToPb(await sites.getSite(req.id))),
    createSite: unary<CreateSiteRequest, SitePb>(log, 'CreateSite', async (req, call) =>
      siteToPb(await sites.createSite(siteFromPb(req.site), callerOf(call))),
    ),
    updateSite: unary<UpdateSiteRequest, SitePb>(log, 'UpdateSite', async (req, call) =>
      siteToPb(await sites.updateSite(siteFromPb(req.site), callerOf(call))),
    ),
  };
}

function tokenHandlers(tokens: BootstrapTokenService, log: Logger): UntypedServiceImplementation {
  return {
    createBootstrapToken: unary<CreateBootstrapTokenRequest, CreateBootstrapTokenResponse>(
      log,
      'CreateBootstrapToken',
      async (req, call) => {
        const request = { siteId: req.siteId, ttlS: req.ttlS, maxUses: req.maxUses };
        const t = await tokens.create(request, callerOf(call));
        return { tokenId: t.id, token: t.token, expiresAtMs: t.expiresAtMs };
      },
    ),
    revokeBootstrapToken: unary<RevokeBootstrapTokenRequest, RevokeBootstrapTokenResponse>(
      log,
      'RevokeBootstrapToken',
      async (req, call) => {
        await tokens.revoke(req.tokenId, callerOf(call));
        return {};
      },
    ),
  };
}

function stopHandler(
  stop: NonNullable<FleetBindingDeps['stopAllRollouts']>,
  log: Logger,
): UntypedServiceImplementation {
  return {
    stopAllRollouts: unary<StopAllRolloutsRequest, StopAllRolloutsResponse>(
      log,
      'StopAllRollouts',
      async (req, call) => ({
        paused: await stop(req.reason, callerOf(call)),
      }),
    ),
  };
}

/** FleetService over the fleet registry. StopAllRollouts answers UNIMPLEMENTED until the rollouts issue. */
export function fleetServiceBinding(deps: FleetBindingDeps): GrpcServiceBinding {
  const implemented: UntypedServiceImplementation = {
    ...readHandlers(deps),
    ...(deps.admin ? agentHandlers(deps.admin, deps.log) : {}),
    ...(deps.sites ? siteHandlers(deps.sites, deps.log) : {}),
    ...(deps.tokens ? tokenHandlers(deps.tokens, deps.log) : {}),
    ...(deps.stopAllRollouts ? stopHandler(deps.stopAllRollouts, deps.log) : {}),
  };
  const implementation: UntypedServiceImplementation = {};
  for (const key of Object.keys(FleetServiceService)) {
    implementation[key] =
      implemented[key] ??
      ((_call: unknown, cb: (e: { code: number; details: string }) => void) =>
        cb({ code: status.UNIMPLEMENTED, details: `FleetService.${key} is not implemented yet` }));
  }
  return { name: 'millwright.v1.FleetService', definition: FleetServiceService, implementation };
}
