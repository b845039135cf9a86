import { AlreadyExistsError, NotFoundError } from '../domain/errors.js';
import { type AlertRule, validateRule } from './domain.js';
import type { AlertRuleStore, NotificationStore, NotificationView } from './ports.js';

/** Managing alert rules (JSON API, `mwctl alerts rules`, config) and reading recent notifications. */
export class AlertRuleService {
  constructor(private readonly deps: { rules: AlertRuleStore; events: NotificationStore }) {}

  list(): Promise<AlertRule[]> {
    return this.deps.rules.list();
  }

  /** @throws InvalidArgumentError naming the bad field; AlreadyExistsError when the id is taken. */
  async add(input: Parameters<typeof validateRule>[0]): Promise<AlertRule> {
    const rule = validateRule(input);
    if ((await this.deps.rules.list()).some((r) => r.id === rule.id))
      throw new AlreadyExistsError('alert rule', rule.id);
    return this.deps.rules.add(rule);
  }

  /** @throws NotFoundError */
  async remove(id: string): Promise<void> {
    if (!(await this.deps.rules.remove(id))) throw new NotFoundError('alert rule', id);
  }

  /** Rules from config: created or replaced on start, never removed (the API may add more). */
  async applyConfigured(inputs: readonly Parameters<typeof validateRule>[0][]): Promise<void> {
    for (const input of inputs) await this.deps.rules.upsert(validateRule(input));
  }

  recent(limit: number): Promise<NotificationView[]> {
    return this.deps.events.recent(Math.min(Math.max(limit, 1), 500));
  }
}
