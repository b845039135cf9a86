import { ErrorCode, InvalidArgumentError, MillwrightError } from '../domain/errors.js';
import { encodeManifest, manifestKey, normaliseFilter, sha256Hex } from './canonical.js';
import type { Snapshot, SnapshotFilter, SnapshotManifest } from './domain.js';
import type { DatasetBlobStore, RetrainingStore, VersionCatalog } from './ports.js';

export interface SnapshotDeps {
  store: RetrainingStore;
  blobs: DatasetBlobStore;
  catalog: VersionCatalog;
  now: () => number;
}

/** The stored manifest does not hash to its id: someone changed the object. */
export class SnapshotIntegrityError extends MillwrightError {
  constructor(id: string, actual: string) {
    super(ErrorCode.INTEGRITY, `snapshot ${id}: stored manifest hashes to ${actual}`, { id, actual });
  }
}

/**
 * Freezes what a filter selects into an immutable manifest: the exact objects with sha256 and row
 * counts, the label summary and the feature schema. Same content, same bytes, same id.
 */
export async function createSnapshot(deps: SnapshotDeps, filter: SnapshotFilter): Promise<Snapshot> {
  if (!filter.model) throw new InvalidArgumentError('filter.model', 'required');
  const f = normaliseFilter({ ...filter, toMs: filter.toMs || deps.now() });
  if (f.fromMs > f.toMs) throw new InvalidArgumentError('filter.from_ms', 'after to_ms');
  const objects = await deps.store.listObjects(f);
  const labelSummary: Record<string, number> = {};
  let totalRows = 0;
  let labelled = 0;
  for (const o of objects) {
    totalRows += o.rows;
    labelled += o.labelled;
    for (const [k, n] of Object.entries(o.labelCounts)) labelSummary[k] = (labelSummary[k] ?? 0) + n;
  }
  labelSummary.unlabelled = totalRows - labelled;
  const manifest: SnapshotManifest = {
    format: 1,
    filter: f,
    objects: objects.map((o) => ({ key: o.key, sha256: o.sha256, rows: o.rows, sizeBytes: o.sizeBytes })),
    labelSummary,
    featureSchema: await featureSchema(deps.catalog, f),
    totalRows,
  };
  const { id, bytes } = encodeManifest(manifest);
  const key = manifestKey(id);
  const existing = await deps.store.getSnapshot(id);
  if (existing)
    return { id, manifest: JSON.parse(bytes.toString('utf8')), manifestKey: key, createdAtMs: existing.createdAtMs };
  await deps.blobs.put(key, bytes, 'application/json');
  const snapshot: Snapshot = {
    id,
    manifest: JSON.parse(bytes.toString('utf8')),
    manifestKey: key,
    createdAtMs: deps.now(),
  };
  await deps.store.saveSnapshot(snapshot);
  return snapshot;
}

/**
 * Reads a snapshot back from its stored bytes and checks they still hash to its id.
 * @throws NotFoundError, SnapshotIntegrityError
 */
export async function getSnapshot(deps: SnapshotDeps, id: string): Promise<Snapshot> {
  const row = await deps.store.getSnapshot(id);
  const bytes = row ? await deps.blobs.get(row.manifestKey) : undefined;
  if (!row || !bytes)
    throw new MillwrightError(ErrorCode.NOT_FOUND, `snapshot ${JSON.stringify(id)} not found`, { id });
  const actual = sha256Hex(bytes);
  if (actual !== id) throw new SnapshotIntegrityError(id, actual);
  return {
    id,
    manifest: JSON.parse(Buffer.from(bytes).toString('utf8')) as SnapshotManifest,
    manifestKey: row.manifestKey,
    createdAtMs: row.createdAtMs,
  };
}

async function featureSchema(catalog: VersionCatalog, f: SnapshotFilter) {
  try {
    const v = f.version ? await catalog.getVersion(f.model, f.version) : await catalog.latestVersion(f.model);
    return (v?.manifest.inputs ?? []).map((i) => ({ name: i.name, unit: i.unit }));
  } catch {
    return [];
  }
}
