import { nextStart, parseCron, windowOpenAt } from './cron.js';
import type { ConditionSource, UpdateClock } from './ports.js';
import type { SwitchRules } from './types.js';

export interface SwitchVerdict {
  allowed: boolean;
  /** Why not (or "forced"), for the WAITING_WINDOW report. */
  reason: string;
}

/**
 * Whether a verified, self-tested version may go live now: inside a maintenance window (when the
 * site has any) and with the edge condition holding (when one is set). `force` overrides both.
 * A window that cannot be evaluated (bad cron or time zone) keeps the switch closed and says why.
 */
export async function evaluateSwitch(
  rules: SwitchRules,
  nowMs: number,
  conditions: ConditionSource,
  signal: AbortSignal,
): Promise<SwitchVerdict> {
  if (rules.force) return { allowed: true, reason: 'forced' };
  const window = windowVerdict(rules, nowMs);
  if (!window.allowed) return window;
  if (!rules.condition.trim()) return { allowed: true, reason: window.reason };
  const c = await conditions.evaluate(rules.condition, signal);
  return c.allowed
    ? { allowed: true, reason: `condition '${rules.condition}' holds` }
    : { allowed: false, reason: `condition '${rules.condition}' does not hold: ${c.detail}` };
}

/**
 * Resolves once a switch is allowed, re-checking every `switchCheckMs`; `onWaiting` hears each new
 * reason for waiting (for the WAITING_WINDOW report). Rejects with the signal's reason when aborted.
 */
export async function waitForSwitch(
  rules: SwitchRules,
  deps: { clock: UpdateClock; conditions: ConditionSource; switchCheckMs: number },
  onWaiting: (reason: string) => void,
  signal: AbortSignal,
): Promise<void> {
  let last = '';
  for (;;) {
    const verdict = await evaluateSwitch(rules, deps.clock.now(), deps.conditions, signal);
    if (verdict.allowed) return;
    if (verdict.reason !== last) onWaiting(verdict.reason);
    last = verdict.reason;
    await deps.clock.sleep(deps.switchCheckMs, signal);
  }
}

/** Open when there are no windows or any window is open now. */
export function windowVerdict(rules: SwitchRules, nowMs: number): SwitchVerdict {
  if (rules.windows.length === 0) return { allowed: true, reason: 'no maintenance windows' };
  const zone = rules.timeZone || 'UTC';
  let next: number | undefined;
  try {
    for (const w of rules.windows) {
      const cron = parseCron(w.cron);
      if (windowOpenAt(cron, w.durationS, zone, nowMs)) return { allowed: true, reason: `in window '${w.cron}'` };
      const n = nextStart(cron, zone, nowMs);
      if (n !== undefined && (next === undefined || n < next)) next = n;
    }
  } catch (err) {
    return { allowed: false, reason: `maintenance window cannot be evaluated: ${(err as Error).message}` };
  }
  const when = next === undefined ? 'none within 8 days' : `next opens ${new Date(next).toISOString()}`;
  return { allowed: false, reason: `outside maintenance windows (${zone}); ${when}` };
}

/** Until a plant wires a real source (e.g. PLC tags), any condition keeps the switch closed unless forced. */
export const noConditionSource: ConditionSource = {
  evaluate: async () => ({ allowed: false, detail: 'no edge condition source is configured on this agent' }),
};
