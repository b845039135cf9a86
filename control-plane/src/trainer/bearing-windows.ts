/**
 * Captured raw windows of a `bearing_health` model back into recorded runs: what the pack's replay
 * reader gives its training tools, from dataset rows instead of FEMTO files.
 */
import type { RecordedRun } from '@millwright/edge-agent/pack/bearing/replay.js';
import type { DatasetRow } from '../retraining/domain.js';

/** What the model reads per window (its `windowInputs`) at the artifact's sampling rate. */
export interface WindowSpec {
  /** Artifact channels: a channel name of the asset, or relative to it (`vib_h` -> `<asset>.vib_h`). */
  channels: readonly string[];
  length: number;
  sampleRateHz: number;
  shaftHz: number;
}

/** One captured window: `length` samples of each artifact channel, in artifact channel order. */
export interface CapturedWindow {
  /** `<agent>/<asset>`: one machine. */
  machine: string;
  tMs: number;
  /** An operator confirmed the failure on this window. */
  failure: boolean;
  /**
   * Fit for a healthy baseline: captured at random or labelled normal / false alarm by an operator.
   * Windows captured because the model alerted or was unsure lean abnormal and would bias the prior.
   */
  baseline: boolean;
  channels: Float32Array[];
}

export type SkipReason = 'missing_channel' | 'sample_rate' | 'short_window';

type RawRef = DatasetRow['raw'][number];

/**
 * The raw window of each artifact channel of a row, resolved as the agent resolves model channels;
 * the reason when the row cannot feed the model (captured without raw, another sensor set-up).
 */
export function rawRefs(row: DatasetRow, spec: WindowSpec): RawRef[] | SkipReason {
  const refs: RawRef[] = [];
  for (const c of spec.channels) {
    const ref = row.raw.find((w) => w.channel === c) ?? row.raw.find((w) => w.channel === `${row.asset}.${c}`);
    if (!ref) return 'missing_channel';
    if (Math.abs(ref.sample_rate_hz - spec.sampleRateHz) > spec.sampleRateHz * 1e-9) return 'sample_rate';
    if (ref.bytes < spec.length * 4) return 'short_window';
    refs.push(ref);
  }
  return refs;
}

/** Reads the raw windows of the rows from the blob store (float32 LE byte ranges of `.bin` objects). */
export async function readWindows(
  rows: readonly DatasetRow[],
  spec: WindowSpec,
  readObject: (key: string) => Promise<Uint8Array>,
): Promise<{ windows: CapturedWindow[]; skipped: Record<SkipReason, number> }> {
  const windows: CapturedWindow[] = [];
  const skipped: Record<SkipReason, number> = { missing_channel: 0, sample_rate: 0, short_window: 0 };
  for (const row of rows) {
    const refs = rawRefs(row, spec);
    if (typeof refs === 'string') {
      skipped[refs]++;
      continue;
    }
    // A row's channels share one object (one per captured sample).
    const blobs = new Map<string, Uint8Array>();
    const channels: Float32Array[] = [];
    for (const ref of refs) {
      let blob = blobs.get(ref.key);
      if (!blob) {
        blob = await readObject(ref.key);
        blobs.set(ref.key, blob);
      }
      if (ref.offset + ref.bytes > blob.length) {
        throw new Error(`${ref.key}: ${blob.length} bytes, row ${row.sample_id} reads [${ref.offset}, +${ref.bytes})`);
      }
      channels.push(float32le(blob, ref.offset, spec.length));
    }
    windows.push({
      machine: `${row.agent_id}/${row.asset}`,
      tMs: row.window_start_ms || row.ts_ms,
      failure: row.label === 'confirmed_failure',
      baseline:
        row.label === 'normal' || row.label === 'false_alarm' || (row.capture_reason === 'random' && !row.label),
      channels,
    });
  }
  return { windows, skipped };
}

function float32le(blob: Uint8Array, offset: number, n: number): Float32Array {
  const view = new DataView(blob.buffer, blob.byteOffset + offset, n * 4);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/**
 * Each machine's windows in time order as recorded runs. A confirmed failure ends a run at that
 * window (the bearing is replaced after it), so the machine's later windows start the next run.
 */
export function runsOf(windows: readonly CapturedWindow[], spec: WindowSpec): { run: RecordedRun; failed: boolean }[] {
  const byMachine = new Map<string, CapturedWindow[]>();
  for (const w of windows) {
    const list = byMachine.get(w.machine) ?? [];
    list.push(w);
    byMachine.set(w.machine, list);
  }
  const out: { run: RecordedRun; failed: boolean }[] = [];
  for (const [machine, all] of [...byMachine].sort(([a], [b]) => a.localeCompare(b))) {
    const sorted = [...all].sort((a, b) => a.tMs - b.tMs);
    let from = 0;
    let n = 0;
    for (let i = 0; i < sorted.length; i++) {
      if (!sorted[i]!.failure && i < sorted.length - 1) continue;
      const run = recordedRun(`${machine}#${n++}`, sorted.slice(from, i + 1), spec);
      out.push({ run, failed: sorted[i]!.failure });
      from = i + 1;
    }
  }
  return out;
}

function recordedRun(name: string, ws: readonly CapturedWindow[], spec: WindowSpec): RecordedRun {
  const nch = spec.channels.length;
  const data = new Float32Array(ws.length * spec.length * nch);
  ws.forEach((w, k) => {
    w.channels.forEach((samples, c) => {
      for (let i = 0; i < spec.length; i++) data[(k * spec.length + i) * nch + c] = samples[i]!;
    });
  });
  const tMs = ws.map((w) => w.tMs);
  return {
    name,
    channels: [...spec.channels],
    sampleRateHz: spec.sampleRateHz,
    shaftHz: spec.shaftHz,
    tMs,
    startMs: tMs[0]!,
    // Runs that did not fail end at their last window; only failed runs choose the threshold.
    failureMs: tMs.at(-1)!,
    samplesPerSnapshot: spec.length,
    data,
  };
}
