import { createHash } from 'node:crypto';
import type { SnapshotFilter, SnapshotManifest } from './domain.js';

/**
 * Canonical JSON: object keys sorted by code point, no whitespace, arrays in order, numbers as
 * JavaScript prints them. Two equal values always give the same bytes.
 * @throws Error on non-finite numbers (they have no JSON form).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`canonical JSON has no form for ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  throw new Error(`canonical JSON has no form for ${typeof value}`);
}

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The filter in its one normal form: sorted unique sites, integer times. */
export function normaliseFilter(f: SnapshotFilter): SnapshotFilter {
  return {
    model: f.model,
    version: f.version,
    siteIds: [...new Set(f.siteIds)].sort(),
    fromMs: Math.trunc(f.fromMs),
    toMs: Math.trunc(f.toMs),
    labelledOnly: f.labelledOnly,
  };
}

/** Sorts what has no meaningful order, so the same content always yields the same manifest. */
export function normaliseManifest(m: SnapshotManifest): SnapshotManifest {
  return {
    format: 1,
    filter: normaliseFilter(m.filter),
    objects: [...m.objects].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
    labelSummary: Object.fromEntries(Object.entries(m.labelSummary).sort(([a], [b]) => (a < b ? -1 : 1))),
    featureSchema: m.featureSchema.map((f) => ({ name: f.name, unit: f.unit })),
    totalRows: m.totalRows,
  };
}

/** The stored bytes and id of a manifest: id = sha256 of the canonical bytes. */
export function encodeManifest(m: SnapshotManifest): { id: string; bytes: Buffer } {
  const bytes = Buffer.from(canonicalJson(normaliseManifest(m)), 'utf8');
  return { id: sha256Hex(bytes), bytes };
}

export function manifestKey(id: string): string {
  return `snapshots/${id}.json`;
}
