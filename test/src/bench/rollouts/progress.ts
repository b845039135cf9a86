/** Where a rollout's time goes: a timeline sampled from Postgres, the simulated fleet and the CP's log. */
import type postgres from 'postgres';
import { sleep } from '../../harness/index.js';
import type { SimFleet } from './sim.js';

export interface Sample {
  t: number;
  /** desired_states rows of the rollout (written by the controller, Postgres first). */
  desired: number;
  /** …of which the KV write landed (kv_revision recorded). */
  kvMarked: number;
  /** Desired values the simulated agents' watch received. */
  kvSeen: number;
  downloads: number;
  reportsPublished: number;
  activePublished: number;
  /** rollout_members in state active: what the control plane has ingested. */
  membersActive: number;
  status: string;
}

/**
 * Samples every `everyMs` until `done(sample)` holds or the timeout passes; returns the samples with
 * `t` relative to `t0` (Date.now() at promote).
 */
export async function sampleUntil(o: {
  sql: postgres.Sql;
  rolloutId: string;
  sim: SimFleet;
  t0: number;
  everyMs: number;
  timeoutMs: number;
  done: (s: Sample) => boolean;
}): Promise<Sample[]> {
  const out: Sample[] = [];
  for (;;) {
    const s = await sample(o.sql, o.rolloutId, o.sim, o.t0);
    out.push(s);
    if (o.done(s)) return out;
    if (s.t > o.timeoutMs) throw new Error(`no convergence after ${o.timeoutMs} ms: ${JSON.stringify(s)}`);
    await sleep(o.everyMs);
  }
}

async function sample(sql: postgres.Sql, rolloutId: string, sim: SimFleet, t0: number): Promise<Sample> {
  const [m] = await sql<{ active: number }[]>`select count(*)::int as active from rollout_members
    where rollout_id = ${rolloutId} and state = 'active'`;
  const [d] = await sql<{ n: number; kv: number }[]>`select count(*)::int as n, count(kv_revision)::int as kv
    from desired_states where rollout_id = ${rolloutId}`;
  const [r] = await sql<{ status: string }[]>`select status from rollouts where id = ${rolloutId}`;
  const c = sim.counters;
  return {
    t: Date.now() - t0,
    desired: d?.n ?? 0,
    kvMarked: d?.kv ?? 0,
    kvSeen: c.desiredSeen,
    downloads: c.downloads,
    reportsPublished: c.reports,
    activePublished: c.activeReports,
    membersActive: m?.active ?? 0,
    status: r?.status ?? '',
  };
}

/** First time (ms after t0) a sample satisfied `pred`, or NaN. */
export function firstAt(samples: readonly Sample[], pred: (s: Sample) => boolean): number {
  return samples.find(pred)?.t ?? Number.NaN;
}

/** The timeline as a table, one row per `stepMs` (the last sample in each step). */
export function timeline(samples: readonly Sample[], stepMs: number): string {
  const rows: Sample[] = [];
  for (const s of samples) {
    const last = rows[rows.length - 1];
    if (last && Math.floor(last.t / stepMs) === Math.floor(s.t / stepMs)) rows[rows.length - 1] = s;
    else rows.push(s);
  }
  const head = '    t_s  desired_rows  kv_marked  kv_seen  downloads  reports_pub  active_pub  members_active  status';
  const lines = rows.map(
    (s) =>
      `${(s.t / 1000).toFixed(1).padStart(7)}  ${pad(s.desired, 12)}  ${pad(s.kvMarked, 9)}  ${pad(s.kvSeen, 7)}  ${pad(s.downloads, 9)}  ${pad(s.reportsPublished, 11)}  ${pad(s.activePublished, 10)}  ${pad(s.membersActive, 14)}  ${s.status}`,
  );
  return [head, ...lines].join('\n');
}

const pad = (n: number, w: number) => String(n).padStart(w);

/** `rollout.tick` debug lines the control plane printed after `sinceMs`: their durations. */
export function tickDurations(cpOutput: string, sinceMs: number, untilMs: number): number[] {
  const out: number[] = [];
  for (const line of cpOutput.split('\n')) {
    if (!line.includes('"rollout.tick"')) continue;
    try {
      const j = JSON.parse(line) as { time?: number; durationMs?: number };
      if ((j.time ?? 0) >= sinceMs && (j.time ?? 0) <= untilMs + 60_000) out.push(j.durationMs ?? 0);
    } catch {
      // A line cut by the output buffer.
    }
  }
  return out;
}
