/** Counts of one window (a converge or the rollback) of the simulated fleet. */
export interface SimCounters {
  desiredSeen: number;
  firstDesiredMs: number;
  lastDesiredMs: number;
  downloads: number;
  downloadedBytes: number;
  downloadMs: number;
  urlRefreshes: number;
  failures: number;
  reports: number;
  activeReports: number;
  lastActiveMs: number;
  publishErrors: number;
}

export const zeroCounters = (): SimCounters => ({
  desiredSeen: 0,
  firstDesiredMs: 0,
  lastDesiredMs: 0,
  downloads: 0,
  downloadedBytes: 0,
  downloadMs: 0,
  urlRefreshes: 0,
  failures: 0,
  reports: 0,
  activeReports: 0,
  lastActiveMs: 0,
  publishErrors: 0,
});

/** Sum of several threads' counters (first/last moments: the earliest/latest set one). */
export function sumCounters(parts: readonly SimCounters[]): SimCounters {
  const out = zeroCounters();
  for (const c of parts) {
    for (const k of Object.keys(out) as (keyof SimCounters)[]) {
      if (k === 'firstDesiredMs') out[k] = out[k] && c[k] ? Math.min(out[k], c[k]) : out[k] || c[k];
      else if (k === 'lastDesiredMs' || k === 'lastActiveMs') out[k] = Math.max(out[k], c[k]);
      else out[k] += c[k];
    }
  }
  return out;
}
