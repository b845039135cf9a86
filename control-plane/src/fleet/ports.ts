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
  /** Applies the latest heartbeat per agent; older ones of the same boot are ignored. */
  upsertHeartbeats(beats: HeartbeatInfo[], opts: { autoRegister: boolean }): Promise<UpsertResult>;
  getAgent(id: string, nowMs: number): Promise<Agent | undefined>;
  listAgents(filter: AgentFilter, page: Page, nowMs: number): Promise<{ agents: Agent[]; total: number }>;
}

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
