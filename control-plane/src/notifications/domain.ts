/** Alert rules and what makes them fire: pure functions over a snapshot of the fleet. */

import { InvalidArgumentError } from '../domain/errors.js';
import type { Agent } from '../domain/fleet.js';

export const RULE_KINDS = [
  'agent_offline',
  'update_failed',
  'rollout_paused',
  'drift',
  'buffer_full',
  'dropping',
] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

export interface AlertRule {
  id: string;
  kind: RuleKind;
  /** agent_offline: `minutes` (default 5); drift: `threshold` (default 3); buffer_full: `percent` (default 80). */
  params: Record<string, number>;
  webhookUrl: string;
  enabled: boolean;
  createdAtMs: number;
}

/** What the rules look at, read once per evaluation. */
export interface RuleSnapshot {
  nowMs: number;
  agents: readonly Agent[];
  /** agent -> most drifted channel over the evaluation window. */
  drift: ReadonlyMap<string, { channel: string; score: number; flagged: boolean }>;
  /** agent -> records dropped over the evaluation window. */
  drops: ReadonlyMap<string, number>;
  rollouts: readonly { id: string; model: string; version: string; status: string; statusReason: string }[];
}

/** One firing condition; `subject` identifies it across evaluations (the de-duplication key). */
export interface Firing {
  subject: string;
  severity: 'critical' | 'warning';
  summary: string;
}

const DEFAULTS: Partial<Record<RuleKind, Record<string, number>>> = {
  agent_offline: { minutes: 5 },
  drift: { threshold: 3 },
  buffer_full: { percent: 80 },
};

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** Checks an untrusted rule (API, CLI, config) and fills in default parameters. */
export function validateRule(input: {
  id: string;
  kind: string;
  params?: Record<string, unknown>;
  webhookUrl: string;
  enabled?: boolean;
}): Omit<AlertRule, 'createdAtMs'> {
  if (!ID.test(input.id)) throw new InvalidArgumentError('id', 'letters, digits, _ . - only (max 63)');
  if (!(RULE_KINDS as readonly string[]).includes(input.kind))
    throw new InvalidArgumentError('kind', `one of ${RULE_KINDS.join(', ')}`);
  let url: URL;
  try {
    url = new URL(input.webhookUrl);
  } catch {
    throw new InvalidArgumentError('webhookUrl', 'not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new InvalidArgumentError('webhookUrl', 'http or https only');
  const kind = input.kind as RuleKind;
  const params: Record<string, number> = { ...DEFAULTS[kind] };
  for (const [k, v] of Object.entries(input.params ?? {})) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      throw new InvalidArgumentError(`params.${k}`, 'a number >= 0');
    params[k] = v;
  }
  return { id: input.id, kind, params, webhookUrl: input.webhookUrl, enabled: input.enabled ?? true };
}

/** The conditions a rule sees in a snapshot right now. */
export function evaluateRule(rule: AlertRule, s: RuleSnapshot): Firing[] {
  switch (rule.kind) {
    case 'agent_offline':
      return offlineFor(s, (rule.params.minutes ?? 5) * 60_000);
    case 'update_failed':
      return s.agents.filter(updateFailed).map((a) => ({
        subject: `agent:${a.id}`,
        severity: 'critical',
        summary: `update of ${a.id} to ${a.modelState?.version} ${phaseText(a)}${reasonText(a)}`,
      }));
    case 'rollout_paused':
      return s.rollouts
        .filter((r) => /paused|rolled_?back|rolling_?back/i.test(r.status))
        .map((r) => ({
          subject: `rollout:${r.id}`,
          severity: 'warning',
          summary: `rollout ${r.id} of ${r.model} ${r.version} is ${r.status.toLowerCase()}${r.statusReason ? `: ${r.statusReason}` : ''}`,
        }));
    case 'drift':
      return driftOver(s, rule.params.threshold ?? 3);
    case 'buffer_full':
      return bufferOver(s, rule.params.percent ?? 80);
    case 'dropping':
      return [...s.drops].map(([agent, n]) => ({
        subject: `agent:${agent}`,
        severity: 'critical',
        summary: `${agent} is dropping data: ${n} records evicted from its buffer`,
      }));
  }
}

function offlineFor(s: RuleSnapshot, ms: number): Firing[] {
  return s.agents
    .filter((a) => a.health === 'offline' && a.lastHeartbeatMs > 0 && s.nowMs - a.lastHeartbeatMs >= ms)
    .map((a) => ({
      subject: `agent:${a.id}`,
      severity: 'critical',
      summary: `${a.id} (${a.siteId}${a.lineId ? `/${a.lineId}` : ''}) offline for ${Math.round((s.nowMs - a.lastHeartbeatMs) / 60_000)} min`,
    }));
}

function updateFailed(a: Agent): boolean {
  return /FAILED|ROLLED_BACK/.test(a.modelState?.phase ?? '');
}

function phaseText(a: Agent): string {
  return (a.modelState?.phase ?? '').includes('FAILED') ? 'failed' : 'was rolled back';
}

function reasonText(a: Agent): string {
  return a.modelState?.reason ? `: ${a.modelState.reason}` : '';
}

function driftOver(s: RuleSnapshot, threshold: number): Firing[] {
  return [...s.drift]
    .filter(([, d]) => d.score >= threshold)
    .map(([agent, d]) => ({
      subject: `agent:${agent}`,
      severity: 'warning',
      summary: `${agent}: sensor ${d.channel} drifting (score ${d.score.toFixed(2)} >= ${threshold})`,
    }));
}

function bufferOver(s: RuleSnapshot, percent: number): Firing[] {
  const out: Firing[] = [];
  for (const a of s.agents) {
    const b = a.buffer;
    if (!b || b.capacityBytes <= 0) continue;
    const pct = (100 * b.bytesOnDisk) / b.capacityBytes;
    if (pct >= percent)
      out.push({ subject: `agent:${a.id}`, severity: 'critical', summary: `${a.id} buffer ${Math.round(pct)} % full` });
  }
  return out;
}

/** The generic webhook body: `text` is what Slack, Mattermost, Teams and Google Chat show. */
export function webhookPayload(
  rule: Pick<AlertRule, 'id' | 'kind'>,
  f: Firing,
  status: 'firing' | 'resolved',
  atMs: number,
) {
  const mark = status === 'firing' ? (f.severity === 'critical' ? '🔴' : '🟠') : '✅';
  const verb = status === 'firing' ? 'FIRING' : 'RESOLVED';
  return {
    text: `${mark} [${verb}] ${f.summary} (rule ${rule.id})`,
    status,
    rule: rule.id,
    kind: rule.kind,
    subject: f.subject,
    severity: f.severity,
    summary: f.summary,
    at: new Date(atMs).toISOString(),
  };
}
