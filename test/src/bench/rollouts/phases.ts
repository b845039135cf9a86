/**
 * Where one converge's time goes, per simulated agent: the moments each agent passed the steps of
 * the real update path (stamped by the probes in ./agent.ts), the control plane's ingest time (from
 * rollout_members.updated_at), and two views of them: when 99 % of the fleet had passed each step,
 * and how long each step took per agent (p50 / p99 / mean).
 */
import type postgres from 'postgres';
import { percentile } from '../report.js';

/** Wall-clock ms with sub-ms precision (same clock as Date.now()). */
export const nowMs = (): number => performance.timeOrigin + performance.now();

/** Moments (ms, wall clock) one agent passed each step of one update; unset when it did not. */
export interface AgentTimes {
  /** The fleet's KV watch delivered the new desired value. */
  desired?: number;
  /** DOWNLOADING reported: signature verified, anti-rollback passed, partial path ready. */
  downloading?: number;
  /** The fetch was let through the bench's download cap (--downloads). */
  slot?: number;
  /** HttpArtifactFetcher.fetch returned: the full artifact is on disk. */
  fetched?: number;
  /** sha256 + size checked (VERIFYING reported before, install starts after). */
  installStart?: number;
  installed?: number;
  loadStart?: number;
  loaded?: number;
  /** ACTIVE reported (self-test passed, pointer persisted, slot switched). */
  active?: number;
  /** The ACTIVE report's JetStream ack arrived. */
  acked?: number;
  /** The control plane stored the member as active (its transaction's start). */
  ingested?: number;
}

type Step = keyof AgentTimes;

/** Fleet milestones, in path order. */
const MILESTONES: [Step, string][] = [
  ['desired', 'desired value seen by the agent'],
  ['downloading', 'signature checked, DOWNLOADING reported'],
  ['slot', 'download started'],
  ['fetched', 'download finished (bytes on disk)'],
  ['installStart', 'sha256 + size verified'],
  ['installed', 'installed in its version directory'],
  ['loaded', 'model loaded'],
  ['active', 'self-tested, switched, ACTIVE reported'],
  ['acked', 'ACTIVE report acked by JetStream'],
  ['ingested', 'control plane stored the member ACTIVE'],
];

/** Per-agent phases: name, from, to. */
const PHASES: [string, Step | 't0', Step][] = [
  ['fanout', 't0', 'desired'],
  ['signature', 'desired', 'downloading'],
  ['download_queue', 'downloading', 'slot'],
  ['download', 'slot', 'fetched'],
  ['sha256', 'fetched', 'installStart'],
  ['install', 'installStart', 'installed'],
  ['load', 'loadStart', 'loaded'],
  ['selftest_switch', 'loaded', 'active'],
  ['report_ack', 'active', 'acked'],
  // From the report, not the ack: the sim's loop may handle an ack after the control plane stored it.
  ['report_ingest', 'active', 'ingested'],
];

export interface PhaseStats {
  phase: string;
  n: number;
  p50: number;
  p99: number;
  mean: number;
}

export class PhaseRecorder {
  private times = new Map<string, AgentTimes>();

  /** The agent's record for the current window (created on first use). */
  of(agentId: string): AgentTimes {
    let t = this.times.get(agentId);
    if (!t) {
      t = {};
      this.times.set(agentId, t);
    }
    return t;
  }

  /** Agents with a record in this window. */
  size(): number {
    return this.times.size;
  }

  /** The records, for sending to another thread. */
  entries(): [string, AgentTimes][] {
    return [...this.times.entries()];
  }

  /** Adds records gathered by another thread. */
  merge(entries: readonly [string, AgentTimes][]): void {
    for (const [id, t] of entries) Object.assign(this.of(id), t);
  }

  /** Starts a new window (the next converge or rollback). */
  reset(): void {
    this.times = new Map();
  }

  /** Reads when the control plane stored each member of `rolloutId` as active. */
  async readIngested(sql: postgres.Sql, rolloutId: string): Promise<void> {
    const rows = await sql<{ agent_id: string; ms: number }[]>`select agent_id,
      extract(epoch from updated_at)::float8 * 1000 as ms
      from rollout_members where rollout_id = ${rolloutId} and state = 'active'`;
    for (const r of rows) this.of(r.agent_id).ingested = r.ms;
  }

  /** When the `want`-th agent passed each step, in ms after `t0` (NaN when fewer did). */
  milestones(t0: number, want: number): { step: Step; label: string; ms: number }[] {
    return MILESTONES.map(([step, label]) => {
      const at = [...this.times.values()].map((t) => t[step]).filter((v): v is number => v !== undefined);
      at.sort((a, b) => a - b);
      return { step, label, ms: at.length >= want ? at[want - 1]! - t0 : Number.NaN };
    });
  }

  /** Per-agent duration of each phase, over the agents that passed both ends. */
  phases(t0: number): PhaseStats[] {
    return PHASES.map(([phase, from, to]) => {
      const d: number[] = [];
      for (const t of this.times.values()) {
        const a = from === 't0' ? t0 : t[from];
        const b = t[to];
        if (a !== undefined && b !== undefined) d.push(b - a);
      }
      const mean = d.reduce((s, x) => s + x, 0) / d.length;
      return { phase, n: d.length, p50: percentile(d, 50), p99: percentile(d, 99), mean };
    });
  }
}

/** The two views as text for stderr. */
export function describePhases(rec: PhaseRecorder, t0: number, want: number): string {
  const ms = rec.milestones(t0, want);
  const lines = ms.map((m) => `    ${(m.ms / 1000).toFixed(2).padStart(6)} s  ${m.label}`);
  const ph = rec
    .phases(t0)
    .map((p) => `    ${p.phase.padEnd(16)} ${fmt(p.p50)} ${fmt(p.p99)} ${fmt(p.mean)}  (${p.n})`);
  return [
    `  99 % of the fleet (${want} agents) had passed, after promote:`,
    ...lines,
    `  per agent, ms (waits for the shared CPU included):`,
    `                          p50      p99     mean`,
    ...ph,
  ].join('\n');
}

const fmt = (x: number) => x.toFixed(1).padStart(8);
