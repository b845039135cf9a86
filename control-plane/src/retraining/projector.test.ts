import { gunzipSync } from 'node:zlib';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { asStore, MemoryBlobs, MemoryCatalog, MemoryRetrainingStore } from './fakes.js';
import type { ProjectableRecord } from './ports.js';
import { DatasetProjector } from './projector.js';
import { createSnapshot } from './snapshots.js';

const T = Date.UTC(2026, 10, 24, 10, 0, 0);

function sample(seq: number, predictionId: string, temp: number): ProjectableRecord {
  return {
    seq,
    tsMs: T + seq * 1000,
    agentId: 'a1',
    siteId: 'plant-a',
    kind: 'sample',
    body: {
      sample: {
        sampleId: `${predictionId}:c1`,
        reason: 'CAPTURE_REASON_RANDOM',
        predictionId,
        model: 'press',
        modelVersion: 'v1',
        score: 0.2,
        features: { names: ['temp'], values: [temp], windowStartMs: T, windowEndMs: T + 1000, asset: 'pump1' },
        raw: [{ channel: 'pump1.temp', unit: 'degC', sampleRateHz: 10, startMs: T, offset: 0, bytes: 40 }],
      },
      blob: { key: 'datasets/press/v1/plant-a/2026-11-24/a1-b-1.bin', bytes: 40 },
    },
  };
}

const label: ProjectableRecord = {
  seq: 2,
  tsMs: T + 2000,
  agentId: 'a1',
  siteId: 'plant-a',
  kind: 'label',
  body: {
    label: { predictionId: 'a1:x:2', kind: 'LABEL_KIND_FALSE_ALARM', note: 'n', operator: 'ana', source: 'agent-api' },
  },
};

const histograms: ProjectableRecord = {
  seq: 4,
  tsMs: T + 4000,
  agentId: 'a1',
  siteId: 'plant-a',
  kind: 'histograms',
  body: {
    histograms: {
      model: 'press',
      modelVersion: 'v1',
      startMs: T,
      endMs: T + 4000,
      features: [{ feature: 'temp', counts: [0, 3, 1, 0] }],
    },
  },
};

function setup() {
  const store = new MemoryRetrainingStore();
  const blobs = new MemoryBlobs();
  const catalog = new MemoryCatalog();
  catalog.add('press', 'v1', { inputs: [{ name: 'temp', unit: 'degC' }], output: { alertThreshold: 0.9 } as never });
  store.records.set(7, {
    agentId: 'a1',
    committedSeq: 4,
    records: [sample(1, 'a1:x:1', 40), label, sample(3, 'a1:x:2', 41), histograms],
  });
  const projector = new DatasetProjector({ store: asStore(store), blobs, catalog, log: pino({ level: 'silent' }) });
  return { store, blobs, catalog, projector };
}

describe('DatasetProjector', () => {
  it('seals samples into a gzip NDJSON part with labels, indexes it and adds histogram counts once', async () => {
    const { store, blobs, projector } = setup();
    expect(await projector.runOnce()).toMatchObject({ streams: 1, rows: 2, objects: 1, labels: 1, histograms: 1 });
    const [obj] = [...store.objects.values()];
    expect(obj).toMatchObject({
      model: 'press',
      version: 'v1',
      siteId: 'plant-a',
      day: '2026-11-24',
      rows: 2,
      labelled: 1,
    });
    expect(obj!.key).toBe('datasets/press/v1/plant-a/2026-11-24/a1-7-1-4.ndjson.gz');
    const rows = gunzipSync(blobs.objects.get(obj!.key)!)
      .toString()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(rows.map((r) => [r.prediction_id, r.label, r.features.temp, r.decision])).toEqual([
      ['a1:x:1', null, 40, 'normal'],
      ['a1:x:2', 'false_alarm', 41, 'normal'],
    ]);
    expect(rows[0].raw[0]).toMatchObject({
      key: 'datasets/press/v1/plant-a/2026-11-24/a1-b-1.bin',
      offset: 0,
      bytes: 40,
    });
    expect(store.labels.map((l) => [l.predictionId, l.kind])).toEqual([['a1:x:2', 'false_alarm']]);
    expect([...store.histograms.values()]).toEqual([[0, 3, 1, 0]]);
    expect(await projector.runOnce()).toMatchObject({ streams: 0, rows: 0 });
    expect([...store.histograms.values()]).toEqual([[0, 3, 1, 0]]);
  });

  it('reads nothing above the committed watermark', async () => {
    const { store, projector } = setup();
    store.records.get(7)!.committedSeq = 1;
    await projector.runOnce();
    expect(store.cursors.get(7)).toBe(1);
    expect([...store.objects.values()].map((o) => o.rows)).toEqual([1]);
  });
});

describe('createSnapshot', () => {
  it('yields the same id and bytes for the same content, and stores the manifest under that id', async () => {
    const { store, blobs, catalog, projector } = setup();
    await projector.runOnce();
    const deps = { store: asStore(store), blobs, catalog, now: () => T + 10_000 };
    const filter = { model: 'press', version: 'v1', siteIds: [], fromMs: T, toMs: T + 5000, labelledOnly: false };
    const a = await createSnapshot(deps, filter);
    const b = await createSnapshot({ ...deps, now: () => T + 99_000 }, filter);
    expect(b.id).toBe(a.id);
    expect(a.manifest).toMatchObject({
      totalRows: 2,
      labelSummary: { false_alarm: 1, unlabelled: 1 },
      featureSchema: [{ name: 'temp', unit: 'degC' }],
    });
    const bytes = blobs.objects.get(`snapshots/${a.id}.json`)!;
    expect(JSON.parse(Buffer.from(bytes).toString())).toEqual(a.manifest);
  });
});
