import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTimestamp } from '@millwright/edge-agent/ingest/replay-parse.js';

/** A run-to-failure recording in the bearings data format, described by its sidecar only. */
export interface RunMeta {
  name: string;
  sidecar: string;
  channels: string[];
  sampleRateHz: number;
  samplesPerSnapshot: number;
  /** Nominal time between snapshots (live rate; the kept data may be thinned). */
  snapshotIntervalS: number;
  shaftHz: number;
  startMs: number;
  failureMs: number;
}

interface Sidecar {
  shape?: number[];
  channels?: string[];
  sampling_rate_hz?: number;
  snapshot_interval_s?: number;
  operating_condition?: { speed_rpm?: number };
  start_timestamp?: string;
  failure_timestamp?: string;
  snapshots?: unknown[];
}

/**
 * Every run-to-failure recording in `dir`: sidecars with a `[n, samples, channels]` shape, a
 * snapshot list, start and failure timestamps and a shaft speed. Others (indexes, CWRU) are skipped.
 * @throws Error when there is none.
 */
export function listRuns(dir: string): RunMeta[] {
  const runs = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => toRun(join(dir, f), JSON.parse(readFileSync(join(dir, f), 'utf8')) as Sidecar))
    .filter((r): r is RunMeta => r !== null);
  if (runs.length === 0) throw new Error(`no run-to-failure recordings (f32 + sidecar) in ${dir}`);
  return runs;
}

function toRun(sidecar: string, s: Sidecar): RunMeta | null {
  const rpm = s.operating_condition?.speed_rpm;
  if (s.shape?.length !== 3 || !Array.isArray(s.snapshots) || !s.channels || !s.sampling_rate_hz || !rpm) return null;
  if (!s.start_timestamp || !s.failure_timestamp) return null;
  return {
    name: sidecar
      .replace(/^.*\//, '')
      .replace(/\.json$/, '')
      .replace(/^femto_/, ''),
    sidecar,
    channels: s.channels,
    sampleRateHz: s.sampling_rate_hz,
    samplesPerSnapshot: s.shape[1]!,
    snapshotIntervalS: s.snapshot_interval_s ?? 10,
    shaftHz: rpm / 60,
    startMs: parseTime(s.start_timestamp),
    failureMs: parseTime(s.failure_timestamp),
  };
}

/** Read as the replay source reads snapshot times (zone-less ISO is UTC; only differences matter). */
function parseTime(s: string): number {
  const t = parseTimestamp(s);
  if (!t.ok) throw new Error(`bad timestamp ${s}`);
  return t.value;
}
