import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import {
  AgentHealth,
  type Agent as AgentPb,
  type BufferStatus as BufferStatusPb,
  FleetServiceService,
  type GetAgentRequest,
  type ListAgentsRequest,
  type ListAgentsResponse,
  ModelStatePhase,
} from '@millwright/proto';
import type { Logger } from 'pino';
import { InvalidArgumentError } from '../../domain/errors.js';
import type { Agent, Health } from '../../domain/fleet.js';
import type { FleetService } from '../../fleet/service.js';
import { unary } from './handlers.js';
import type { GrpcServiceBinding } from './server.js';

const HEALTH_TO_PB: Record<Health, AgentHealth> = {
  online: AgentHealth.AGENT_HEALTH_ONLINE,
  stale: AgentHealth.AGENT_HEALTH_STALE,
  offline: AgentHealth.AGENT_HEALTH_OFFLINE,
  decommissioned: AgentHealth.AGENT_HEALTH_DECOMMISSIONED,
};

function healthFromPb(h: AgentHealth): Health | undefined {
  if (h === AgentHealth.AGENT_HEALTH_UNSPECIFIED) return undefined;
  const found = (Object.entries(HEALTH_TO_PB) as [Health, AgentHealth][]).find(([, v]) => v === h);
  if (!found) throw new InvalidArgumentError('health', `unknown value ${h}`);
  return found[0];
}

export function agentToPb(a: Agent): AgentPb {
  const phase = a.modelState ? (ModelStatePhase[a.modelState.phase as keyof typeof ModelStatePhase] ?? 0) : 0;
  return {
    id: a.id,
    siteId: a.siteId,
    lineId: a.lineId,
    labels: a.labels,
    agentVersion: a.agentVersion,
    runningModelVersion: a.runningModelVersion,
    lastHeartbeatMs: a.lastHeartbeatMs,
    health: HEALTH_TO_PB[a.health],
    buffer: a.buffer as BufferStatusPb | undefined,
    enrolledAtMs: a.enrolledAtMs,
    startedAtMs: a.startedAtMs,
    resources: a.resources,
    pinned: a.pinned,
    modelState: a.modelState && {
      phase,
      version: a.modelState.version,
      reason: a.modelState.reason,
      sinceMs: a.modelState.sinceMs,
    },
    desiredModelVersion: a.desiredModelVersion,
  };
}

/** FleetService over the fleet registry. RPCs of later milestones answer UNIMPLEMENTED. */
export function fleetServiceBinding(deps: { fleet: FleetService; log: Logger }): GrpcServiceBinding {
  const { fleet, log } = deps;
  const implemented: UntypedServiceImplementation = {
    listAgents: unary<ListAgentsRequest, ListAgentsResponse>(log, 'ListAgents', async (req) => {
      const res = await fleet.listAgents(
        {
          siteId: req.siteId || undefined,
          lineId: req.lineId || undefined,
          labels: req.labels,
          health: healthFromPb(req.health),
        },
        req.page?.pageSize ?? 0,
        req.page?.pageToken ?? '',
      );
      return { agents: res.agents.map(agentToPb), page: { nextPageToken: res.nextPageToken, total: res.total } };
    }),
    getAgent: unary<GetAgentRequest, AgentPb>(log, 'GetAgent', async (req) => agentToPb(await fleet.getAgent(req.id))),
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
