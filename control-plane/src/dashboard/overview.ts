/** The fleet overview: pure aggregation of agents and recent signals into what the first page shows. */
import type { Agent, Health } from '../domain/fleet.js';
import type { FleetSignals } from './ports.js';

export type HealthCounts = Record<'online' | 'stale' | 'offline', number>;

export interface LineOverview {
  id: string;
  displayName: string;
  counts: HealthCounts;
  /** running version -> agents */
  versions: Record<string, number>;
  unsentRecords: number;
  /** Oldest "last sync" among the line's agents (0 when none synced yet). */
  oldestSyncMs: number;
  agents: { id: string; health: Health; runningModelVersion: string }[];
}

export interface SiteOverview {
  id: string;
  displayName: string;
  counts: HealthCounts;
  lines: LineOverview[];
}

export type AttentionKind = 'offline' | 'stale' | 'update_failed' | 'drift' | 'buffer_full' | 'dropping';

export interface AttentionItem {
  kind: AttentionKind;
  severity: 'critical' | 'warning';
  agentId: string;
  siteId: string;
  message: string;
  sinceMs: number;
}

export interface Overview {
  generatedAtMs: number;
  counts: HealthCounts;
  versions: Record<string, number>;
  sites: SiteOverview[];
  attention: AttentionItem[];
}

/** Fraction of the buffer's capacity at which an agent needs attention. */
export const BUFFER_ATTENTION_FRACTION = 0.8;

const emptyCounts = (): HealthCounts => ({ online: 0, stale: 0, offline: 0 });

/** Builds the overview; sites without agents still show (a new plant is worth seeing). */
export function buildOverview(input: {
  nowMs: number;
  agents: readonly Agent[];
  sites: readonly { id: string; displayName: string; lines: { id: string; displayName: string }[] }[];
  signals: FleetSignals;
}): Overview {
  const live = input.agents.filter((a) => a.health !== 'decommissioned');
  const sites = new Map<string, SiteOverview>();
  for (const s of input.sites)
    sites.set(s.id, { id: s.id, displayName: s.displayName, counts: emptyCounts(), lines: [] });
  const counts = emptyCounts();
  const versions: Record<string, number> = {};
  for (const a of [...live].sort((x, y) => x.id.localeCompare(y.id))) {
    const site = sites.get(a.siteId) ?? newSite(sites, a.siteId);
    const line = lineOf(site, a.lineId, input.sites);
    addAgent(line, a);
    bump(site.counts, a.health);
    bump(counts, a.health);
    if (a.runningModelVersion) versions[a.runningModelVersion] = (versions[a.runningModelVersion] ?? 0) + 1;
  }
  return {
    generatedAtMs: input.nowMs,
    counts,
    versions,
    sites: [...sites.values()].sort((x, y) => x.id.localeCompare(y.id)),
    attention: attentionItems(live, input.signals),
  };
}

function newSite(sites: Map<string, SiteOverview>, id: string): SiteOverview {
  const s: SiteOverview = { id, displayName: '', counts: emptyCounts(), lines: [] };
  sites.set(id, s);
  return s;
}

function lineOf(site: SiteOverview, lineId: string, known: Parameters<typeof buildOverview>[0]['sites']): LineOverview {
  let line = site.lines.find((l) => l.id === lineId);
  if (!line) {
    const displayName = known.find((s) => s.id === site.id)?.lines.find((l) => l.id === lineId)?.displayName ?? '';
    line = {
      id: lineId,
      displayName,
      counts: emptyCounts(),
      versions: {},
      unsentRecords: 0,
      oldestSyncMs: 0,
      agents: [],
    };
    site.lines.push(line);
    site.lines.sort((x, y) => x.id.localeCompare(y.id));
  }
  return line;
}

function addAgent(line: LineOverview, a: Agent): void {
  bump(line.counts, a.health);
  if (a.runningModelVersion) line.versions[a.runningModelVersion] = (line.versions[a.runningModelVersion] ?? 0) + 1;
  line.unsentRecords += a.buffer?.unsentRecords ?? 0;
  const sync = a.buffer?.lastSyncMs ?? 0;
  if (sync > 0 && (line.oldestSyncMs === 0 || sync < line.oldestSyncMs)) line.oldestSyncMs = sync;
  line.agents.push({ id: a.id, health: a.health, runningModelVersion: a.runningModelVersion });
}

function bump(c: HealthCounts, h: Health): void {
  if (h !== 'decommissioned') c[h]++;
}

const SEVERITY_ORDER: Record<AttentionItem['severity'], number> = { critical: 0, warning: 1 };

/** What an operator should look at, worst first. */
export function attentionItems(agents: readonly Agent[], signals: FleetSignals): AttentionItem[] {
  const out: AttentionItem[] = [];
  for (const a of agents) out.push(...agentAttention(a, signals));
  return out.sort((x, y) => SEVERITY_ORDER[x.severity] - SEVERITY_ORDER[y.severity] || x.sinceMs - y.sinceMs);
}

function agentAttention(a: Agent, signals: FleetSignals): AttentionItem[] {
  const base = { agentId: a.id, siteId: a.siteId };
  const out: AttentionItem[] = [];
  if (a.health === 'offline' || a.health === 'stale') {
    out.push({
      ...base,
      kind: a.health,
      severity: a.health === 'offline' ? 'critical' : 'warning',
      message: a.lastHeartbeatMs > 0 ? `no heartbeat since ${new Date(a.lastHeartbeatMs).toISOString()}` : 'never seen',
      sinceMs: a.lastHeartbeatMs,
    });
  }
  const phase = a.modelState?.phase ?? '';
  if (/FAILED|ROLLED_BACK/.test(phase)) {
    const what = phase.includes('FAILED') ? 'update failed' : 'update rolled back';
    const reason = a.modelState?.reason ? `: ${a.modelState.reason}` : '';
    out.push({
      ...base,
      kind: 'update_failed',
      severity: 'critical',
      message: `${what} (${a.modelState?.version})${reason}`,
      sinceMs: a.modelState?.sinceMs ?? 0,
    });
  }
  out.push(...signalAttention(a, signals));
  return out;
}

function signalAttention(a: Agent, signals: FleetSignals): AttentionItem[] {
  const base = { agentId: a.id, siteId: a.siteId, sinceMs: a.lastHeartbeatMs };
  const out: AttentionItem[] = [];
  const drift = signals.drift.get(a.id);
  if (drift?.flagged) {
    const message = `sensor drift suspected on ${drift.channel} (score ${drift.score.toFixed(2)})`;
    out.push({ ...base, kind: 'drift', severity: 'warning', message });
  }
  const b = a.buffer;
  if (b && b.capacityBytes > 0 && b.bytesOnDisk / b.capacityBytes >= BUFFER_ATTENTION_FRACTION) {
    const pct = Math.round((100 * b.bytesOnDisk) / b.capacityBytes);
    out.push({ ...base, kind: 'buffer_full', severity: 'critical', message: `buffer ${pct} % full` });
  }
  const dropped = signals.drops.get(a.id);
  if (dropped) out.push({ ...base, kind: 'dropping', severity: 'critical', message: `dropped ${dropped} records` });
  return out;
}
