import type { Agent, AgentFilter, HeartbeatInfo, Page } from '../domain/fleet.js';

export interface UpsertResult {
  applied: number;
  /** Agents that are not registered (when auto-registration is off): their heartbeats are dead-lettered. */
  unknownAgents: string[];
  /** Decommissioned agents among the batch: their heartbeats are dead-lettered as `decommissioned`. */
  decommissionedAgents?: string[];
}

/** Where the fleet registry lives (Postgres in production, a fake in unit tests). */
export interface FleetStore {
  /**
   * Applies at most one heartbeat per agent (the ingest coalesces); one older than the stored one
   * (same boot, lower or equal seq) is ignored. Writes the agent's row only when line, labels, agent
   * version or running model version changed; liveness (last seen, boot, buffer, resources) otherwise.
   */
  upsertHeartbeats(beats: HeartbeatInfo[], opts: { autoRegister: boolean }): Promise<UpsertResult>;
  getAgent(id: string, nowMs: number): Promise<Agent | undefined>;
  listAgents(filter: AgentFilter, page: Page, nowMs: number): Promise<{ agents: Agent[]; total: number }>;
}

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
