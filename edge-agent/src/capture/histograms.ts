import type { ModelManifest } from '../domain/model.js';

/** Counts of one feature: below the first edge, one per bin, at or above the last edge. */
export interface FeatureCounts {
  feature: string;
  counts: number[];
}

/** Histograms of one model version over [startMs, endMs), never across an hour boundary. */
export interface HistogramBatch {
  model: string;
  modelVersion: string;
  startMs: number;
  endMs: number;
  windows: number;
  features: FeatureCounts[];
}

interface Binned {
  feature: string;
  input: number;
  edges: Float64Array;
  counts: Float64Array;
}

interface Bucket {
  model: string;
  version: string;
  hour: number;
  startMs: number;
  lastMs: number;
  windows: number;
  bins: Binned[];
}

const HOUR_MS = 3_600_000;

/** Index of `v` in counts laid out as [below, bin 0 .. bin n-1, at-or-above]. */
export function binIndex(edges: ArrayLike<number>, v: number): number {
  const n = edges.length;
  if (v < edges[0]!) return 0;
  if (v >= edges[n - 1]!) return n;
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (v >= edges[mid]!) lo = mid;
    else hi = mid;
  }
  return lo + 1;
}

/**
 * Accumulates, per model version and hour, how the scored windows' features fall into the
 * manifest's reference bins (FeatureReference.bin_edges). Only counts leave the agent, so the control
 * plane computes drift against the training reference without raw data.
 */
export class HistogramAccumulator {
  private readonly buckets = new Map<string, Bucket>();
  private finished: HistogramBatch[] = [];

  /** One scored window: `values` in the manifest's input order. */
  observe(manifest: ModelManifest, values: ArrayLike<number>, atMs: number): void {
    if (manifest.reference.length === 0) return;
    const key = `${manifest.model}\u0000${manifest.version}`;
    const hour = Math.floor(atMs / HOUR_MS);
    let b = this.buckets.get(key);
    if (b && b.hour !== hour) {
      this.finished.push(toBatch(b, Math.max(b.lastMs + 1, Math.min(atMs, (b.hour + 1) * HOUR_MS))));
      b = undefined;
    }
    if (!b) {
      b = newBucket(manifest, hour, atMs);
      this.buckets.set(key, b);
    }
    b.windows++;
    b.lastMs = atMs;
    for (const bin of b.bins) {
      const v = values[bin.input]!;
      if (Number.isFinite(v)) bin.counts[binIndex(bin.edges, v)]!++;
    }
  }

  /**
   * Batches of finished hours, plus every open bucket older than `flushMs` (or all of them with
   * `force`); flushed buckets start again empty, so each count is sent once.
   */
  take(nowMs: number, flushMs: number, force = false): HistogramBatch[] {
    const out = this.finished;
    this.finished = [];
    for (const [key, b] of this.buckets) {
      const hourOver = Math.floor(nowMs / HOUR_MS) !== b.hour;
      if (!force && !hourOver && nowMs - b.startMs < flushMs) continue;
      if (b.windows > 0) out.push(toBatch(b, Math.max(b.lastMs + 1, Math.min(nowMs, (b.hour + 1) * HOUR_MS))));
      this.buckets.delete(key);
    }
    return out;
  }
}

function newBucket(m: ModelManifest, hour: number, atMs: number): Bucket {
  const inputs = new Map(m.inputs.map((f, i) => [f.name, i]));
  const bins: Binned[] = [];
  for (const r of m.reference) {
    const input = inputs.get(r.feature);
    if (input === undefined || r.binEdges.length < 2) continue;
    bins.push({
      feature: r.feature,
      input,
      edges: Float64Array.from(r.binEdges),
      counts: new Float64Array(r.binEdges.length + 1),
    });
  }
  return { model: m.model, version: m.version, hour, startMs: atMs, lastMs: atMs, windows: 0, bins };
}

function toBatch(b: Bucket, endMs: number): HistogramBatch {
  return {
    model: b.model,
    modelVersion: b.version,
    startMs: b.startMs,
    endMs,
    windows: b.windows,
    features: b.bins.map((x) => ({ feature: x.feature, counts: Array.from(x.counts) })),
  };
}
