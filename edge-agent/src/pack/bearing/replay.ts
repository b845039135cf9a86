import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SampleBlock } from '../../domain/channel.js';
import { MillwrightError, ModelLoadError } from '../../domain/errors.js';

/**
 * Readers for the recorded bearing data format (float32 LE + JSON sidecar, see the data README).
 * A stand-in file replay source for training and evaluation until the agent's ingest replay source
 * can deliver these files; both produce `SampleBlock`s.
 */
export interface RecordedRun {
  name: string;
  channels: string[];
  sampleRateHz: number;
  shaftHz: number;
  /** Snapshot start times, ms since epoch, ascending. */
  tMs: number[];
  startMs: number;
  failureMs: number;
  samplesPerSnapshot: number;
  /** [snapshot][sample][channel], interleaved. */
  data: Float32Array;
}

interface RunSidecar {
  file: string;
  shape: [number, number, number];
  channels: string[];
  sampling_rate_hz: number;
  operating_condition: { speed_rpm: number };
  start_timestamp: string;
  failure_timestamp: string;
  snapshots: { timestamp: string }[];
}

/** Every run in `dir` (sidecars with a `[n, samples, channels]` shape and snapshot timestamps). */
export function readRunDirectory(dir: string): RecordedRun[] {
  const sidecars = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  const runs = sidecars.map((f) => readRun(dir, f)).filter((r): r is RecordedRun => r !== null);
  if (runs.length === 0) throw new MillwrightError('NOT_FOUND', `no run-to-failure recordings in ${dir}`, { dir });
  return runs;
}

function readRun(dir: string, sidecarFile: string): RecordedRun | null {
  const meta = JSON.parse(readFileSync(join(dir, sidecarFile), 'utf8')) as Partial<RunSidecar>;
  if (!Array.isArray(meta.snapshots) || meta.shape?.length !== 3 || !meta.file) return null;
  const m = meta as RunSidecar;
  const data = readFloat32(join(dir, m.file), m.shape[0] * m.shape[1] * m.shape[2]);
  return {
    name: sidecarFile.replace(/\.json$/, '').replace(/^femto_/, ''),
    channels: m.channels,
    sampleRateHz: m.sampling_rate_hz,
    shaftHz: m.operating_condition.speed_rpm / 60,
    tMs: m.snapshots.map((s) => parseTime(s.timestamp)),
    startMs: parseTime(m.start_timestamp),
    failureMs: parseTime(m.failure_timestamp),
    samplesPerSnapshot: m.shape[1],
    data,
  };
}

/** Sidecar timestamps are local wall-clock without zone; read them as UTC, only differences matter. */
function parseTime(s: string): number {
  return Date.parse(/[zZ]|[+-]\d\d:\d\d$/.test(s) ? s : `${s.slice(0, 23)}Z`);
}

export function readFloat32(path: string, expected: number): Float32Array {
  const buf = readFileSync(path);
  if (buf.byteLength !== expected * 4) {
    throw new ModelLoadError(`${path}: ${buf.byteLength} bytes, expected ${expected * 4}`, { path });
  }
  const out = new Float32Array(expected);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

/**
 * Replays a run snapshot by snapshot in time order, de-interleaving each channel into reused blocks
 * (valid only during the callback, like a live source).
 */
export function replaySnapshots(
  run: RecordedRun,
  onSnapshot: (blocks: readonly SampleBlock[], k: number) => void,
): void {
  const nch = run.channels.length;
  const blocks: SampleBlock[] = run.channels.map((channel) => ({
    channel,
    t0Ms: 0,
    sampleRateHz: run.sampleRateHz,
    values: new Float64Array(run.samplesPerSnapshot),
    length: run.samplesPerSnapshot,
  }));
  run.tMs.forEach((t, k) => {
    const base = k * run.samplesPerSnapshot * nch;
    blocks.forEach((b, c) => {
      b.t0Ms = t;
      for (let i = 0; i < run.samplesPerSnapshot; i++) b.values[i] = run.data[base + i * nch + c]!;
    });
    onSnapshot(blocks, k);
  });
}

/** A continuous recording ([sample][channel]), e.g. a CWRU file. */
export interface Recording {
  name: string;
  label: string;
  channels: string[];
  sampleRateHz: number;
  shaftHz: number;
  data: Float32Array;
}

export function readRecording(dir: string, stem: string): Recording {
  const meta = JSON.parse(readFileSync(join(dir, `${stem}.json`), 'utf8')) as {
    file: string;
    shape: [number, number];
    channels: string[];
    sampling_rate_hz: number;
    nominal_speed_rpm: number;
    label: string;
  };
  return {
    name: stem,
    label: meta.label,
    channels: meta.channels,
    sampleRateHz: meta.sampling_rate_hz,
    shaftHz: meta.nominal_speed_rpm / 60,
    data: readFloat32(join(dir, meta.file), meta.shape[0] * meta.shape[1]),
  };
}
