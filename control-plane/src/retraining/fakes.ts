/** In-memory fakes of the retraining ports for unit tests (only what the use cases touch). */
import type { Manifest } from '../registry/domain.js';
import type { DatasetObject, LabelKind, RetrainingPolicy, RetrainingRequest, Snapshot } from './domain.js';
import type {
  DatasetBlobStore,
  LabelRow,
  PendingStream,
  ProjectableRecord,
  Projection,
  RetrainingStore,
  VersionCatalog,
  VersionInfo,
} from './ports.js';

export class MemoryBlobs implements DatasetBlobStore {
  readonly objects = new Map<string, Uint8Array>();
  async put(key: string, bytes: Uint8Array): Promise<void> {
    this.objects.set(key, bytes);
  }
  async get(key: string): Promise<Uint8Array | undefined> {
    return this.objects.get(key);
  }
}

export class MemoryCatalog implements VersionCatalog {
  readonly versions: VersionInfo[] = [];
  add(model: string, version: string, manifest: Partial<Manifest>): void {
    this.versions.push({ model, version, manifest: manifest as Manifest });
  }
  async getVersion(model: string, ref: string): Promise<VersionInfo> {
    const v = this.versions.find((x) => x.model === model && x.version === ref);
    if (!v) throw new Error(`no ${model}@${ref}`);
    return v;
  }
  async latestVersion(model: string): Promise<VersionInfo | undefined> {
    return this.versions.filter((x) => x.model === model).at(-1);
  }
}

/** Records per stream plus everything a projection writes; requests, snapshots and policies in maps. */
export class MemoryRetrainingStore implements Partial<RetrainingStore> {
  readonly records = new Map<number, { agentId: string; committedSeq: number; records: ProjectableRecord[] }>();
  readonly cursors = new Map<number, number>();
  readonly labels: LabelRow[] = [];
  readonly objects = new Map<string, DatasetObject>();
  readonly histograms = new Map<string, number[]>();
  readonly snapshots = new Map<string, Snapshot>();
  readonly requests = new Map<string, RetrainingRequest>();
  readonly policies = new Map<string, RetrainingPolicy>();

  async pendingStreams(limit: number): Promise<PendingStream[]> {
    return [...this.records]
      .map(([streamId, s]) => ({
        streamId,
        agentId: s.agentId,
        sealedSeq: this.cursors.get(streamId) ?? 0,
        committedSeq: s.committedSeq,
      }))
      .filter((s) => s.committedSeq > s.sealedSeq)
      .slice(0, limit);
  }

  async readProjectable(streamId: number, afterSeq: number, upToSeq: number, limit: number) {
    return (this.records.get(streamId)?.records ?? [])
      .filter((r) => r.seq > afterSeq && r.seq <= upToSeq)
      .slice(0, limit);
  }

  async labelsFor(ids: readonly string[]) {
    const out = new Map<string, { kind: LabelKind; note: string }>();
    for (const l of this.labels)
      if (ids.includes(l.predictionId)) out.set(l.predictionId, { kind: l.kind, note: l.note });
    return out;
  }

  async commitProjection(p: Projection): Promise<boolean> {
    if ((this.cursors.get(p.streamId) ?? 0) !== p.fromSeq) return false;
    this.cursors.set(p.streamId, p.toSeq);
    this.labels.push(...p.labels);
    for (const o of p.objects) this.objects.set(o.key, o);
    for (const h of p.histograms) {
      const key = [h.model, h.version, h.siteId, h.feature, h.hourMs].join('|');
      const old = this.histograms.get(key);
      this.histograms.set(key, old ? old.map((c, i) => c + h.counts[i]!) : [...h.counts]);
    }
    return true;
  }

  async listObjects() {
    return [...this.objects.values()].sort((a, b) => (a.key < b.key ? -1 : 1));
  }

  async saveSnapshot(s: Snapshot) {
    if (!this.snapshots.has(s.id)) this.snapshots.set(s.id, s);
  }

  async getSnapshot(id: string) {
    return this.snapshots.get(id);
  }

  async getPolicy(model: string) {
    return this.policies.get(model);
  }
}

export function asStore(s: MemoryRetrainingStore): RetrainingStore {
  return s as unknown as RetrainingStore;
}
