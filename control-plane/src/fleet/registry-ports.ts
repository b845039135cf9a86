/** Ports of the fleet registry's write side: sites, agent administration, timeline, tokens, enrollment. */
import type { AuditEntry } from '../audit/ports.js';
import type { EnrollAttempt, EnrollRefusal } from '../domain/enrollment.js';
import type { Page } from '../domain/fleet.js';
import type { Site, SiteInput } from '../domain/site.js';
import type { SweptAgent, TimelineEntry, Transition } from '../domain/timeline.js';

/** Sites and their lines. Every change commits together with its audit entry. */
export interface SiteStore {
  /** @throws AlreadyExistsError when the id is taken. */
  createSite(site: SiteInput, audit: AuditEntry): Promise<Site>;
  /** Replaces everything but id and creation time; undefined when the site does not exist. */
  updateSite(site: SiteInput, audit: AuditEntry): Promise<Site | undefined>;
  getSite(id: string): Promise<Site | undefined>;
  listSites(page: Page): Promise<{ sites: Site[]; total: number }>;
}

/** Administrative changes to agents, each committed with its timeline entry and audit entry. */
export interface AgentAdminStore {
  /** @returns false when the agent does not exist or is already decommissioned. */
  decommission(agentId: string, entry: TimelineEntry, audit: AuditEntry): Promise<boolean>;
  /** @returns false when the agent does not exist or is decommissioned. */
  setPinned(agentId: string, pinned: boolean, entry: TimelineEntry, audit: AuditEntry): Promise<boolean>;
  /** The nkey public key bound at enrollment, if any. */
  nkeyOf(agentId: string): Promise<string | undefined>;
}

/** The agent_history table as the sweeper and the API see it. */
export interface TimelineStore {
  /** Live agents whose derived health (at nowMs) differs from the last one recorded. */
  sweepCandidates(nowMs: number, limit: number): Promise<SweptAgent[]>;
  /** Writes transitions whose `from` still matches (compare and set); returns how many were written. */
  recordTransitions(transitions: Transition[]): Promise<number>;
  /** Appends heartbeat events; `announce` becomes `restart` for an agent that announced before. */
  appendBootEvents(entries: TimelineEntry[]): Promise<void>;
  deleteHistoryBefore(ms: number): Promise<number>;
  /** The latest `limit` entries at or after sinceMs, oldest first. */
  history(agentId: string, sinceMs: number, limit: number): Promise<TimelineEntry[]>;
}

export interface NewBootstrapToken {
  id: string;
  siteId: string;
  tokenHash: string;
  expiresAtMs: number;
  maxUses: number;
  createdBy: string;
}

export interface BootstrapTokenStore {
  /** @throws NotFoundError when the site does not exist. */
  createToken(token: NewBootstrapToken, audit: AuditEntry): Promise<void>;
  /** @returns false when no such token exists; revoking twice keeps the first time. */
  revokeToken(id: string, atMs: number, audit: AuditEntry): Promise<boolean>;
}

export type EnrollOutcome = { ok: true; agentId: string; siteId: string; reenrolled: boolean } | EnrollRefusal;

export interface EnrollmentStore {
  /**
   * Checks the token and the agent id and records the agent, atomically: the token row is locked, its
   * use counted, the agent inserted and the audit entry written in one transaction.
   */
  enroll(attempt: EnrollAttempt & { agentId: string }, nowMs: number, audit: AuditEntry): Promise<EnrollOutcome>;
  /** Public keys (base64 raw ed25519) of the active artifact signing keys. */
  trustKeys(): Promise<string[]>;
}
