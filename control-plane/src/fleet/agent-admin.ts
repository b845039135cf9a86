import type { Caller } from '../audit/ports.js';
import { InvalidArgumentError, NotFoundError, PreconditionError } from '../domain/errors.js';
import type { Agent } from '../domain/fleet.js';
import { type TimelineEntry, TimelineEvent } from '../domain/timeline.js';
import type { AgentCredentialIssuer } from './credentials.js';
import { MAX_PAGE } from './paging.js';
import type { Clock, FleetStore } from './ports.js';
import type { AgentAdminStore, TimelineStore } from './registry-ports.js';

export interface AgentAdminDeps {
  fleet: FleetStore;
  admin: AgentAdminStore;
  timeline: TimelineStore;
  credentials: AgentCredentialIssuer;
  clock: Clock;
}

const DEFAULT_HISTORY = 100;

/** Decommissioning, pinning and the health timeline of single agents. */
export class AgentAdminService {
  constructor(private readonly deps: AgentAdminDeps) {}

  /** Marks the agent decommissioned for good: its heartbeats are dead-lettered and its credentials revoked. */
  async decommission(id: string, reason: string, caller: Caller): Promise<Agent> {
    if (!reason.trim()) throw new InvalidArgumentError('reason', 'required');
    const agent = await this.liveAgent(id);
    const entry = this.entry(agent, 'decommissioned', TimelineEvent.decommissioned);
    const audit = { ...caller, action: 'agent.decommission', target: id, reason };
    if (!(await this.deps.admin.decommission(id, entry, audit))) throw alreadyDecommissioned(id);
    const nkeyPublic = (await this.deps.admin.nkeyOf(id)) ?? '';
    await this.deps.credentials.revoke({ agentId: id, siteId: agent.siteId, nkeyPublic });
    return this.get(id);
  }

  /** Pinned agents are left out of rollouts. */
  async setPinned(id: string, pinned: boolean, reason: string, caller: Caller): Promise<Agent> {
    const agent = await this.liveAgent(id);
    const entry = this.entry(agent, agent.health, pinned ? TimelineEvent.pinned : TimelineEvent.unpinned);
    const audit = { ...caller, action: pinned ? 'agent.pin' : 'agent.unpin', target: id, reason };
    if (!(await this.deps.admin.setPinned(id, pinned, entry, audit))) throw alreadyDecommissioned(id);
    return this.get(id);
  }

  async history(id: string, sinceMs: number, limit: number): Promise<TimelineEntry[]> {
    if (limit > MAX_PAGE) throw new InvalidArgumentError('limit', `at most ${MAX_PAGE}`);
    if (sinceMs < 0) throw new InvalidArgumentError('since_ms', 'must not be negative');
    await this.get(id);
    return this.deps.timeline.history(id, sinceMs, limit || DEFAULT_HISTORY);
  }

  private async get(id: string): Promise<Agent> {
    if (!id) throw new InvalidArgumentError('id', 'required');
    const agent = await this.deps.fleet.getAgent(id, this.deps.clock.now());
    if (!agent) throw new NotFoundError('agent', id);
    return agent;
  }

  private async liveAgent(id: string): Promise<Agent> {
    const agent = await this.get(id);
    if (agent.health === 'decommissioned') throw alreadyDecommissioned(id);
    return agent;
  }

  private entry(agent: Agent, health: Agent['health'], event: TimelineEvent): TimelineEntry {
    return {
      agentId: agent.id,
      atMs: this.deps.clock.now(),
      health,
      runningModelVersion: agent.runningModelVersion,
      unsentRecords: agent.buffer?.unsentRecords ?? 0,
      event,
    };
  }
}

function alreadyDecommissioned(id: string): PreconditionError {
  return new PreconditionError(`agent ${JSON.stringify(id)} is decommissioned`, { id });
}
