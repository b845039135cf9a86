/**
 * The notification loop: on the leader only, every interval, evaluates every enabled rule, opens a
 * notification for each new firing subject (delivered once), keeps open ones alive and resolves
 * those whose condition is gone (with a resolve message). Undelivered firings are retried on the
 * next tick, so a webhook outage delays messages instead of losing them.
 */
import type { Logger } from 'pino';
import { type AlertRule, evaluateRule, type Firing, webhookPayload } from './domain.js';
import type {
  AlertRuleStore,
  Leadership,
  NotificationStore,
  OpenNotification,
  SnapshotSource,
  WebhookSender,
} from './ports.js';

export interface NotificationEvaluatorDeps {
  rules: Pick<AlertRuleStore, 'list'>;
  events: NotificationStore;
  source: SnapshotSource;
  webhook: WebhookSender;
  leader: Leadership;
  now: () => number;
  intervalMs: number;
  /** @default 5000 */
  webhookTimeoutMs?: number;
  log: Logger;
  onDelivery?(outcome: 'ok' | 'failed', status: 'firing' | 'resolved'): void;
}

export interface TickResult {
  fired: number;
  resolved: number;
  failed: number;
}

const key = (ruleId: string, subject: string) => `${ruleId}\0${subject}`;

export class NotificationEvaluator {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: NotificationEvaluatorDeps) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running = this.running
        .then(() => this.tick())
        .catch((err: unknown) => {
          this.deps.log.warn({ err }, 'notifications.tick_failed');
        });
    }, this.deps.intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One evaluation; a follower does nothing. */
  async tick(): Promise<TickResult> {
    const result: TickResult = { fired: 0, resolved: 0, failed: 0 };
    if (!this.deps.leader.isLeader()) return result;
    const now = this.deps.now();
    const rules = (await this.deps.rules.list()).filter((r) => r.enabled);
    const snapshot = await this.deps.source.snapshot(now);
    const open = new Map((await this.deps.events.open()).map((n) => [key(n.ruleId, n.subject), n]));
    const still: number[] = [];
    for (const rule of rules) {
      for (const f of evaluateRule(rule, snapshot)) {
        const existing = open.get(key(rule.id, f.subject));
        open.delete(key(rule.id, f.subject));
        if (existing) {
          still.push(existing.id);
          if (!existing.delivered) await this.deliverFiring(rule, existing, result);
        } else await this.fire(rule, f, now, result);
      }
    }
    await this.deps.events.touch(still, now);
    const byId = new Map(rules.map((r) => [r.id, r]));
    for (const n of open.values()) await this.resolve(n, byId.get(n.ruleId), now, result);
    if (result.fired + result.resolved + result.failed > 0) this.deps.log.info(result, 'notifications.tick');
    return result;
  }

  private async fire(rule: AlertRule, f: Firing, now: number, result: TickResult): Promise<void> {
    const payload = webhookPayload(rule, f, 'firing', now);
    const id = await this.deps.events.insert({ ruleId: rule.id, subject: f.subject, atMs: now, payload });
    result.fired++;
    const n = { id, ruleId: rule.id, subject: f.subject, firstAtMs: now, delivered: false, payload };
    await this.deliverFiring(rule, n, result);
  }

  private async deliverFiring(rule: AlertRule, n: OpenNotification, result: TickResult): Promise<void> {
    if (await this.post(rule.webhookUrl, n.payload, 'firing'))
      await this.deps.events.markDelivered(n.id, this.deps.now());
    else result.failed++;
  }

  /** Resolves it; a rule removed or disabled meanwhile resolves silently (nobody to tell). */
  private async resolve(n: OpenNotification, rule: AlertRule | undefined, now: number, result: TickResult) {
    await this.deps.events.resolve(n.id, now);
    result.resolved++;
    if (!rule || !n.delivered) return;
    const f: Firing = {
      subject: n.subject,
      severity: n.payload.severity === 'critical' ? 'critical' : 'warning',
      summary: String(n.payload.summary ?? n.subject),
    };
    if (!(await this.post(rule.webhookUrl, webhookPayload(rule, f, 'resolved', now), 'resolved'))) result.failed++;
  }

  private async post(url: string, body: Record<string, unknown>, status: 'firing' | 'resolved'): Promise<boolean> {
    try {
      await this.deps.webhook.send(url, body, AbortSignal.timeout(this.deps.webhookTimeoutMs ?? 5000));
      this.deps.onDelivery?.('ok', status);
      return true;
    } catch (err) {
      this.deps.onDelivery?.('failed', status);
      this.deps.log.warn({ err, url: redactUrl(url), status }, 'notifications.webhook_failed');
      return false;
    }
  }
}

/** Webhook URLs carry their secret in the path (Slack, Teams): log the host only. */
function redactUrl(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(invalid url)';
  }
}
