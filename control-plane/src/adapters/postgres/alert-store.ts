/** Alert rules and de-duplicated notifications in Postgres (`alert_rules`, `notification_events`). */
import { AlreadyExistsError } from '../../domain/errors.js';
import type { AlertRule, RuleKind } from '../../notifications/domain.js';
import type {
  AlertRuleStore,
  NotificationStore,
  NotificationView,
  OpenNotification,
} from '../../notifications/ports.js';
import type { Sql } from './db.js';

/** The shared pool's timestamps arrive as text (drizzle turns off postgres.js's date parsing). */
const ms = (v: string): number =>
  new Date(
    String(v)
      .replace(' ', 'T')
      .replace(/([+-]\d\d)$/, '$1:00'),
  ).getTime();

interface RuleRow {
  id: string;
  kind: string;
  params: Record<string, number>;
  webhook_url: string;
  enabled: boolean;
  created_at: string;
}

const toRule = (r: RuleRow): AlertRule => ({
  id: r.id,
  kind: r.kind as RuleKind,
  params: r.params,
  webhookUrl: r.webhook_url,
  enabled: r.enabled,
  createdAtMs: ms(r.created_at),
});

export class PostgresAlertRuleStore implements AlertRuleStore {
  constructor(private readonly deps: { sql: Sql }) {}

  async list(): Promise<AlertRule[]> {
    const rows = await this.deps.sql<RuleRow[]>`select * from alert_rules order by id`;
    return rows.map(toRule);
  }

  async add(rule: Omit<AlertRule, 'createdAtMs'>): Promise<AlertRule> {
    const rows = await this.deps.sql<RuleRow[]>`
      insert into alert_rules (id, kind, params, webhook_url, enabled)
      values (${rule.id}, ${rule.kind}, ${JSON.stringify(rule.params)}::jsonb, ${rule.webhookUrl}, ${rule.enabled})
      on conflict (id) do nothing returning *`;
    if (!rows[0]) throw new AlreadyExistsError('alert rule', rule.id);
    return toRule(rows[0]);
  }

  async upsert(rule: Omit<AlertRule, 'createdAtMs'>): Promise<void> {
    await this.deps.sql`
      insert into alert_rules (id, kind, params, webhook_url, enabled)
      values (${rule.id}, ${rule.kind}, ${JSON.stringify(rule.params)}::jsonb, ${rule.webhookUrl}, ${rule.enabled})
      on conflict (id) do update set kind = excluded.kind, params = excluded.params,
        webhook_url = excluded.webhook_url, enabled = excluded.enabled`;
  }

  async remove(id: string): Promise<boolean> {
    const res = await this.deps.sql`delete from alert_rules where id = ${id}`;
    return res.count > 0;
  }
}

interface EventRow {
  id: string;
  rule_id: string;
  subject: string;
  first_at: string;
  last_at: string;
  resolved_at: string | null;
  delivered_at: string | null;
  payload: Record<string, unknown>;
}

const toOpen = (r: EventRow): OpenNotification => ({
  id: Number(r.id),
  ruleId: r.rule_id,
  subject: r.subject,
  firstAtMs: ms(r.first_at),
  delivered: r.delivered_at !== null,
  payload: r.payload,
});

export class PostgresNotificationStore implements NotificationStore {
  constructor(private readonly deps: { sql: Sql }) {}

  async open(): Promise<OpenNotification[]> {
    const rows = await this.deps.sql<EventRow[]>`select * from notification_events where resolved_at is null`;
    return rows.map(toOpen);
  }

  async insert(n: { ruleId: string; subject: string; atMs: number; payload: Record<string, unknown> }) {
    const at = new Date(n.atMs).toISOString();
    const [row] = await this.deps.sql<{ id: string }[]>`
      insert into notification_events (rule_id, subject, first_at, last_at, payload)
      values (${n.ruleId}, ${n.subject}, ${at}, ${at}, ${JSON.stringify(n.payload)}::jsonb) returning id`;
    return Number(row!.id);
  }

  async touch(ids: number[], atMs: number): Promise<void> {
    if (ids.length === 0) return;
    await this.deps
      .sql`update notification_events set last_at = ${new Date(atMs).toISOString()} where id = any(${ids}::bigint[])`;
  }

  async markDelivered(id: number, atMs: number): Promise<void> {
    await this.deps.sql`update notification_events set delivered_at = ${new Date(atMs).toISOString()} where id = ${id}`;
  }

  async resolve(id: number, atMs: number): Promise<void> {
    await this.deps.sql`update notification_events set resolved_at = ${new Date(atMs).toISOString()} where id = ${id}`;
  }

  async recent(limit: number): Promise<NotificationView[]> {
    const rows = await this.deps.sql<EventRow[]>`
      select * from notification_events order by (resolved_at is null) desc, last_at desc limit ${limit}`;
    return rows.map((r) => ({
      ...toOpen(r),
      lastAtMs: ms(r.last_at),
      resolvedAtMs: r.resolved_at ? ms(r.resolved_at) : null,
    }));
  }
}
