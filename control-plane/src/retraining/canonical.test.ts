import { describe, expect, it } from 'vitest';
import { canonicalJson, encodeManifest, sha256Hex } from './canonical.js';
import type { SnapshotManifest } from './domain.js';

const manifest = (): SnapshotManifest => ({
  format: 1,
  filter: { model: 'press', version: '1', siteIds: ['b', 'a', 'a'], fromMs: 10, toMs: 20, labelledOnly: false },
  objects: [
    { key: 'datasets/press/1/b/2026-11-24/x.ndjson.gz', sha256: 'bb', rows: 2, sizeBytes: 20 },
    { key: 'datasets/press/1/a/2026-11-24/y.ndjson.gz', sha256: 'aa', rows: 1, sizeBytes: 10 },
  ],
  labelSummary: { unlabelled: 2, false_alarm: 1 },
  featureSchema: [{ name: 'temp', unit: 'degC' }],
  totalRows: 3,
});

describe('canonicalJson', () => {
  it('sorts keys at every depth and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { f: 1, e: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[3,{"e":2,"f":1}]},"b":1}',
    );
  });

  it('refuses non-finite numbers', () => {
    expect(() => canonicalJson({ x: Number.NaN })).toThrow();
  });
});

describe('encodeManifest', () => {
  it('gives the same bytes and id whatever the order of objects, sites and keys', () => {
    const a = encodeManifest(manifest());
    const shuffled = manifest();
    shuffled.objects.reverse();
    shuffled.filter.siteIds = ['a', 'b'];
    shuffled.labelSummary = { false_alarm: 1, unlabelled: 2 };
    const b = encodeManifest(shuffled);
    expect(b.bytes.equals(a.bytes)).toBe(true);
    expect(b.id).toBe(a.id);
  });

  it('names the manifest by the sha256 of its bytes and changes the id with the content', () => {
    const a = encodeManifest(manifest());
    expect(a.id).toBe(sha256Hex(a.bytes));
    const changed = manifest();
    changed.objects[0]!.sha256 = 'cc';
    expect(encodeManifest(changed).id).not.toBe(a.id);
    expect(JSON.parse(a.bytes.toString()).objects.map((o: { key: string }) => o.key)).toEqual([
      'datasets/press/1/a/2026-11-24/y.ndjson.gz',
      'datasets/press/1/b/2026-11-24/x.ndjson.gz',
    ]);
  });
});
