import {
  AgentHealth,
  type AgentHistoryEntry as AgentHistoryEntryPb,
  type Agent as AgentPb,
  type BufferStatus as BufferStatusPb,
  ModelStatePhase,
  type Site as SitePb,
} from '@millwright/proto';
import { InvalidArgumentError } from '../../domain/errors.js';
import type { Agent, Health } from '../../domain/fleet.js';
import type { Site, SiteInput } from '../../domain/site.js';
import type { TimelineEntry } from '../../domain/timeline.js';

const HEALTH_TO_PB: Record<Health, AgentHealth> = {
  online: AgentHealth.AGENT_HEALTH_ONLINE,
  stale: AgentHealth.AGENT_HEALTH_STALE,
  offline: AgentHealth.AGENT_HEALTH_OFFLINE,
  decommissioned: AgentHealth.AGENT_HEALTH_DECOMMISSIONED,
};

export function healthToPb(h: Health): AgentHealth {
  return HEALTH_TO_PB[h];
}

export function healthFromPb(h: AgentHealth): Health | undefined {
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

export function siteToPb(s: Site): SitePb {
  return {
    id: s.id,
    displayName: s.displayName,
    timeZone: s.timeZone,
    lines: s.lines.map((l) => ({ id: l.id, displayName: l.displayName })),
    maintenanceWindows: s.maintenanceWindows.map((w) => ({ cron: w.cron, durationS: w.durationS })),
    createdAtMs: s.createdAtMs,
  };
}

/** A site from a request; `site` itself is required. Field checks are the domain's (validateSite). */
export function siteFromPb(s: SitePb | undefined): SiteInput {
  if (!s) throw new InvalidArgumentError('site', 'required');
  return {
    id: s.id,
    displayName: s.displayName,
    timeZone: s.timeZone,
    lines: s.lines.map((l) => ({ id: l.id, displayName: l.displayName })),
    maintenanceWindows: s.maintenanceWindows.map((w) => ({ cron: w.cron, durationS: w.durationS })),
  };
}

export function historyEntryToPb(e: TimelineEntry): AgentHistoryEntryPb {
  return {
    atMs: e.atMs,
    health: HEALTH_TO_PB[e.health],
    runningModelVersion: e.runningModelVersion,
    unsentRecords: e.unsentRecords,
    event: e.event,
  };
}
