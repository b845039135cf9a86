import type { Logger } from 'pino';
import type { DatasetObject, DatasetRow, LabelKind } from './domain.js';
import type {
  DatasetBlobStore,
  HistogramDelta,
  LabelRow,
  PendingStream,
  ProjectableRecord,
  RetrainingStore,
  VersionCatalog,
} from './ports.js';
import { encodePart, labelFromRecord, partKey, rowFromSample, sampleFacts, utcDay } from './rows.js';

export interface ProjectorDeps {
  store: RetrainingStore;
  blobs: DatasetBlobStore;
  catalog: VersionCatalog;
  log: Logger;
  /** Records read per stream per pass. @default 5000 */
  maxRecords?: number;
  /** Streams per pass. @default 200 */
  maxStreams?: number;
}

export interface ProjectionStats {
  streams: number;
  rows: number;
  objects: number;
  labels: number;
  histograms: number;
}

const HOUR_MS = 3_600_000;

/**
 * Turns committed edge records into training data: captured samples into sealed dataset parts in S3
 * (indexed in dataset_objects), agents' label records into operator_labels, histogram reports into
 * feature_histograms. It reads each record stream only up to its committed watermark, below which no
 * record can still arrive, and moves a per-stream cursor in the same transaction: each record is
 * projected once. A label record precedes the context windows it caused (the agent writes it first),
 * so those rows carry their label.
 */
export class DatasetProjector {
  private readonly thresholds = new Map<string, number>();

  constructor(private readonly deps: ProjectorDeps) {}

  async runOnce(): Promise<ProjectionStats> {
    const stats: ProjectionStats = { streams: 0, rows: 0, objects: 0, labels: 0, histograms: 0 };
    for (const s of await this.deps.store.pendingStreams(this.deps.maxStreams ?? 200)) {
      const r = await this.projectStream(s);
      if (!r) continue;
      stats.streams++;
      stats.rows += r.rows;
      stats.objects += r.objects;
      stats.labels += r.labels;
      stats.histograms += r.histograms;
    }
    return stats;
  }

  private async projectStream(s: PendingStream) {
    const limit = this.deps.maxRecords ?? 5000;
    const records = await this.deps.store.readProjectable(s.streamId, s.sealedSeq, s.committedSeq, limit);
    const toSeq = records.length >= limit ? records[records.length - 1]!.seq : s.committedSeq;
    const labels = records.filter((r) => r.kind === 'label').flatMap((r) => labelFromRecord(r) ?? []);
    const samples = records.filter((r) => r.kind === 'sample');
    const known = await this.labelsOf(samples, labels);
    const objects = await this.sealParts(s, toSeq, samples, known);
    const histograms = records.filter((r) => r.kind === 'histograms').flatMap(histogramDeltas);
    const ok = await this.deps.store.commitProjection({
      streamId: s.streamId,
      fromSeq: s.sealedSeq,
      toSeq,
      labels,
      objects,
      histograms,
    });
    if (!ok) return undefined;
    const rows = objects.reduce((n, o) => n + o.rows, 0);
    return { rows, objects: objects.length, labels: labels.length, histograms: histograms.length };
  }

  /** Labels stored before plus those in this range (later wins). */
  private async labelsOf(samples: ProjectableRecord[], inRange: LabelRow[]) {
    const ids = [...new Set(samples.map((r) => sampleFacts(r).predictionId).filter(Boolean))];
    const known =
      ids.length > 0 ? await this.deps.store.labelsFor(ids) : new Map<string, { kind: LabelKind; note: string }>();
    for (const l of inRange) known.set(l.predictionId, { kind: l.kind, note: l.note });
    return known;
  }

  private async sealParts(
    s: PendingStream,
    toSeq: number,
    samples: ProjectableRecord[],
    labels: Map<string, { kind: LabelKind; note: string }>,
  ): Promise<DatasetObject[]> {
    const parts = new Map<
      string,
      { model: string; version: string; siteId: string; day: string; rows: DatasetRow[] }
    >();
    for (const r of samples) {
      const f = sampleFacts(r);
      const day = utcDay(r.tsMs);
      const key = partKey({
        ...f,
        siteId: r.siteId,
        day,
        agentId: s.agentId,
        streamId: s.streamId,
        fromSeq: s.sealedSeq,
        toSeq,
      });
      let part = parts.get(key);
      if (!part) {
        part = { model: f.model, version: f.version, siteId: r.siteId, day, rows: [] };
        parts.set(key, part);
      }
      part.rows.push(rowFromSample(r, labels.get(f.predictionId), await this.threshold(f.model, f.version)));
    }
    const out: DatasetObject[] = [];
    for (const [key, p] of parts) {
      const enc = encodePart(p.rows);
      await this.deps.blobs.put(key, enc.bytes, 'application/x-ndjson+gzip');
      out.push({
        key,
        model: p.model,
        version: p.version,
        siteId: p.siteId,
        day: p.day,
        rows: p.rows.length,
        sha256: enc.sha256,
        sizeBytes: enc.bytes.length,
        labelled: enc.labelled,
        labelCounts: enc.labelCounts,
      });
    }
    return out;
  }

  /** The version's alert threshold (decisions of rows); NaN when the registry does not know it. */
  private async threshold(model: string, version: string): Promise<number> {
    const key = `${model}\u0000${version}`;
    let t = this.thresholds.get(key);
    if (t === undefined) {
      try {
        t = (await this.deps.catalog.getVersion(model, version)).manifest.output.alertThreshold;
      } catch {
        t = Number.NaN;
      }
      this.thresholds.set(key, t);
    }
    return t;
  }
}

function histogramDeltas(r: ProjectableRecord): HistogramDelta[] {
  const h = (r.body.histograms ?? {}) as Record<string, unknown>;
  const hourMs = Math.floor(Number(h.startMs ?? r.tsMs) / HOUR_MS) * HOUR_MS;
  const features = Array.isArray(h.features) ? (h.features as Record<string, unknown>[]) : [];
  return features.map((f) => ({
    model: String(h.model ?? ''),
    version: String(h.modelVersion ?? ''),
    siteId: r.siteId,
    feature: String(f.feature ?? ''),
    hourMs,
    counts: (Array.isArray(f.counts) ? f.counts : []).map((c) => Number(c) || 0),
  }));
}
