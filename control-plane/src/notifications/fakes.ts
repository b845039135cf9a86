/** In-memory fakes of the notification ports, for unit tests. */
import { AlreadyExistsError } from '../domain/errors.js';
import type { AlertRule } from './domain.js';
import type { AlertRuleStore, NotificationStore, NotificationView, WebhookSender } from './ports.js';

export class MemoryAlertRuleStore implements AlertRuleStore {
  readonly rules = new Map<string, AlertRule>();

  constructor(private readonly now: () => number = Date.now) {}

  async list(): Promise<AlertRule[]> {
    return [...this.rules.values()];
  }

  async add(rule: Omit<AlertRule, 'createdAtMs'>): Promise<AlertRule> {
    if (this.rules.has(rule.id)) throw new AlreadyExistsError('alert rule', rule.id);
    const r = { ...rule, createdAtMs: this.now() };
    this.rules.set(r.id, r);
    return r;
  }

  async upsert(rule: Omit<AlertRule, 'createdAtMs'>): Promise<void> {
    this.rules.set(rule.id, { ...rule, createdAtMs: this.now() });
  }

  async remove(id: string): Promise<boolean> {
    return this.rules.delete(id);
  }
}

export class MemoryNotificationStore implements NotificationStore {
  readonly rows: NotificationView[] = [];

  async open() {
    return this.rows.filter((r) => r.resolvedAtMs === null);
  }

  async insert(n: { ruleId: string; subject: string; atMs: number; payload: Record<string, unknown> }) {
    const id = this.rows.length + 1;
    this.rows.push({ id, ...n, firstAtMs: n.atMs, lastAtMs: n.atMs, resolvedAtMs: null, delivered: false });
    return id;
  }

  async touch(ids: number[], atMs: number) {
    for (const r of this.rows) if (ids.includes(r.id)) r.lastAtMs = atMs;
  }

  async markDelivered(id: number) {
    const r = this.rows.find((x) => x.id === id);
    if (r) r.delivered = true;
  }

  async resolve(id: number, atMs: number) {
    const r = this.rows.find((x) => x.id === id);
    if (r) r.resolvedAtMs = atMs;
  }

  async recent(limit: number) {
    return [...this.rows].reverse().slice(0, limit);
  }
}

/** Records what was posted; `failing` makes every post throw (a webhook outage). */
export class RecordingWebhook implements WebhookSender {
  readonly sent: { url: string; body: Record<string, unknown> }[] = [];
  failing = false;

  async send(url: string, body: Record<string, unknown>): Promise<void> {
    if (this.failing) throw new Error('webhook down');
    this.sent.push({ url, body });
  }
}
