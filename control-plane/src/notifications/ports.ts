import type { AlertRule, RuleSnapshot } from './domain.js';

/** An open (not yet resolved) notification: one per (rule, subject). */
export interface OpenNotification {
  id: number;
  ruleId: string;
  subject: string;
  firstAtMs: number;
  delivered: boolean;
  /** The firing summary as delivered; the resolve message repeats it. */
  payload: Record<string, unknown>;
}

export interface NotificationView extends OpenNotification {
  lastAtMs: number;
  resolvedAtMs: number | null;
}

/** Alert rules (Postgres `alert_rules`; config rules are upserted into it on start). */
export interface AlertRuleStore {
  list(): Promise<AlertRule[]>;
  /** Throws AlreadyExistsError when the id is taken. */
  add(rule: Omit<AlertRule, 'createdAtMs'>): Promise<AlertRule>;
  /** Creates or replaces (rules from config). */
  upsert(rule: Omit<AlertRule, 'createdAtMs'>): Promise<void>;
  /** false when no such rule. */
  remove(id: string): Promise<boolean>;
}

/** De-duplicated notifications (Postgres `notification_events`). */
export interface NotificationStore {
  open(): Promise<OpenNotification[]>;
  insert(n: { ruleId: string; subject: string; atMs: number; payload: Record<string, unknown> }): Promise<number>;
  touch(ids: number[], atMs: number): Promise<void>;
  markDelivered(id: number, atMs: number): Promise<void>;
  resolve(id: number, atMs: number): Promise<void>;
  recent(limit: number): Promise<NotificationView[]>;
}

/** Posts JSON to a webhook; throws when it was not accepted (2xx). */
export interface WebhookSender {
  send(url: string, body: Record<string, unknown>, signal: AbortSignal): Promise<void>;
}

/** Reads what the rules look at. */
export interface SnapshotSource {
  snapshot(nowMs: number): Promise<RuleSnapshot>;
}

/** Whether this replica runs singletons (PostgresLeaderElection in production). */
export interface Leadership {
  isLeader(): boolean;
}
