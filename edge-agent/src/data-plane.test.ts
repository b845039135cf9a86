import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Record as RecordPb } from '@millwright/proto';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { DurableBuffer } from './buffer/durable-buffer.js';
import { recordBytes } from './buffer/reader.js';
import { AgentConfigSchema } from './config.js';
import { ConfigOverlayApplier } from './config-overlay/applier.js';
import { DataPlane } from './data-plane.js';
import { loadLinear } from './inference/linear.js';
import type { LoadedModel } from './inference/runtime.js';
import { testManifest, utf8 } from './inference/testkit.js';
import { defaultArtifact, defaultIndicatorConfig } from './pack/bearing/defaults.js';
import { PRONOSTIA } from './pack/bearing/geometry.js';
import { buildManifest } from './pack/bearing/manifest.js';
import { loadBearingHealth } from './pack/bearing/model.js';

const SIDECAR = fileURLToPath(new URL('../../../shared/data/bearings/femto/femto_Bearing1_1.json', import.meta.url));
const SNAPSHOTS = 12;

/** The pack for Bearing1_1, one window per replayed snapshot. */
function bearingModel() {
  const artifact = {
    ...defaultArtifact({
      channels: ['horizontal_acc', 'vertical_acc'],
      shaftHz: 30,
      indicators: defaultIndicatorConfig(25_600, 2560, PRONOSTIA),
    }),
    window: { length: 2560, everyS: 0.1 },
  };
  const manifest = buildManifest(artifact, { model: 'bearing-pack', version: '1.0.0', sequence: 1 });
  return loadBearingHealth(manifest, new TextEncoder().encode(JSON.stringify(artifact)));
}

async function predictionRecords(dir: string) {
  const buffer = await DurableBuffer.open({ dir, capacityBytes: 1024 ** 3, segmentBytes: 64 * 1024 ** 2 });
  try {
    const out: RecordPb[] = [];
    for (let after = 0; ; ) {
      const batch = await buffer.readUnsent(1000, 64 * 1024 ** 2, after);
      if (batch.count === 0) return out.filter((r) => r.body?.$case === 'prediction');
      for (let i = 0; i < batch.count; i++) out.push(RecordPb.decode(recordBytes(batch, i)));
      after = batch.lastSeq;
    }
  } finally {
    await buffer.close();
  }
}

describe('the data plane with the bearing pack on a paced FEMTO replay', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  // The replay divides file time by its pace, so windows start at fractions of a millisecond:
  // their records used to throw in the int64 encoder, silently (the source swallows sink errors),
  // and the raw-window collector then re-scored the same window on every block.
  it('buffers one prediction per replayed snapshot, as the local API shows them', async () => {
    dir = await mkdtemp(join(tmpdir(), 'mw-dp-'));
    const config = AgentConfigSchema.parse({
      agentId: 'rig-1',
      siteId: 'lab',
      dataDir: dir,
      http: { port: 0 },
      sources: [
        { type: 'replay_f32', id: 'rig', sidecar: SIDECAR, pace: 300, timestamps: 'replay', maxSnapshots: SNAPSHOTS },
      ],
    });
    const model = bearingModel();
    const metrics = new Registry();
    const plane = await DataPlane.open({
      config,
      log: pino({ level: 'silent' }),
      metrics,
      models: { active: () => model, shadow: () => undefined },
      bootId: 'b',
      makeUplink: () => ({
        publisher: { publish: async () => {} },
        watermarks: { start: async () => {}, stop: async () => {} },
      }),
    });
    await plane.start();
    // The cleaner holds each snapshot's last points until the next one: the last window stays open.
    const windows = SNAPSHOTS - 1;
    type Api = { predictions: { predictionId: string; windowStartMs: number }[] };
    let shown: Api['predictions'] = [];
    for (let i = 0; i < 200 && new Set(shown.map((p) => p.windowStartMs)).size < windows; i++) {
      await new Promise((r) => setTimeout(r, 100));
      shown = ((await (await fetch(`http://127.0.0.1:${plane.httpPort}/predictions?limit=500`)).json()) as Api)
        .predictions;
    }
    await plane.stop();

    expect(shown.map((p) => p.windowStartMs).some((t) => !Number.isInteger(t))).toBe(true);
    const stored = (await predictionRecords(join(dir, 'buffer'))).map((r) =>
      r.body?.$case === 'prediction' ? r.body.value : undefined,
    );
    expect(stored.map((p) => p?.predictionId)).toEqual(shown.map((p) => p.predictionId).reverse());
    expect(stored).toHaveLength(windows);
    expect(new Set(stored.map((p) => p?.windowStartMs)).size).toBe(windows);
    expect(stored.map((p) => p?.windowStartMs)).toEqual(shown.map((p) => Math.round(p.windowStartMs)).reverse());
    const failures = await metrics.getSingleMetric('mw_agent_pipeline_block_failures_total')?.get();
    expect(failures?.values[0]?.value ?? 0).toBe(0);
  });
});

/** A 10 Hz current `p.x` replayed from CSV, scored by a linear model on its 4-point mean. */
async function replayPlane(opts: {
  dir: string;
  fromMs: number;
  lines: number;
  pace: number | 'asap';
  observe?: () => void;
}) {
  const csv = join(opts.dir, 'current.csv');
  const rows = Array.from({ length: opts.lines }, (_, i) => `${opts.fromMs + i * 100},${10 + (i % 3) * 0.1}`);
  await writeFile(csv, `timestamp,x\n${rows.join('\n')}\n`);
  const config = AgentConfigSchema.parse({
    agentId: 'a1',
    siteId: 's1',
    dataDir: opts.dir,
    http: { port: 0 },
    features: { process: { windowSize: 4 } },
    sources: [
      {
        type: 'replay_csv',
        id: 'r',
        path: csv,
        pace: opts.pace,
        timestamps: opts.pace === 'asap' ? 'original' : 'replay',
        channels: [{ name: 'p.x', field: 'x', unit: 'A', sampleRateHz: 10, asset: 'p' }],
      },
    ],
  });
  const manifest = testManifest('linear', 1, { inputs: [{ name: 'x.mean', unit: 'A' }] });
  const model: LoadedModel = await loadLinear(manifest, utf8({ weights: [0.01], intercept: 0 }));
  const metrics = new Registry();
  const log = pino({ level: 'silent' });
  const plane = await DataPlane.open({
    config,
    log,
    metrics,
    models: { active: () => model, shadow: () => undefined, observe: () => opts.observe?.() },
    bootId: 'b',
    makeUplink: () => ({
      publisher: { publish: async () => {} },
      watermarks: { start: async () => {}, stop: async () => {} },
    }),
  });
  const count = async (name: string, labels: Record<string, string> = {}) => {
    const m = await metrics.getSingleMetric(name)?.get();
    const match = (l: Record<string, unknown>) => Object.entries(labels).every(([k, v]) => l[k] === v);
    return (m?.values ?? []).filter((v) => match(v.labels)).reduce((sum, v) => sum + v.value, 0);
  };
  return { config, plane, log, count };
}

async function until(what: string, ok: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function bufferedRecords(dir: string): Promise<RecordPb[]> {
  const buffer = await DurableBuffer.open({ dir, capacityBytes: 1024 ** 3, segmentBytes: 64 * 1024 ** 2 });
  try {
    const out: RecordPb[] = [];
    for (let after = 0; ; ) {
      const batch = await buffer.readUnsent(1000, 64 * 1024 ** 2, after);
      if (batch.count === 0) return out;
      for (let i = 0; i < batch.count; i++) out.push(RecordPb.decode(recordBytes(batch, i)));
      after = batch.lastSeq;
    }
  } finally {
    await buffer.close();
  }
}

describe('the data plane with hot config and records it cannot encode', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('applies a cleaning change without running downstream stages; a failure on the released points counts as a block', async () => {
    dir = await mkdtemp(join(tmpdir(), 'mw-dp-hot-'));
    let failing = false;
    const { config, plane, log, count } = await replayPlane({
      dir,
      fromMs: 0,
      lines: 1200,
      pace: 1,
      observe: () => {
        if (failing) throw new Error('downstream broke');
      },
    });
    const overlay = new ConfigOverlayApplier({ base: config, log });
    overlay.subscribe((next) => plane.prepareConfig(next));
    await plane.start();
    try {
      await until('predictions', async () => (await count('mw_agent_predictions_total')) >= 3);
      // The spike filter holds 8 points, two windows' worth: released inside the swap, they would be scored there.
      failing = true;
      const r = await overlay.apply(1, { config: { cleaning: { defaults: { hampel: { halfWidth: 2 } } } } });
      expect(r).toEqual({ ok: true });
      expect(overlay.generation()).toBe(1);
      expect(overlay.current().cleaning.defaults.hampel?.halfWidth).toBe(2);
      await until('a failed block', async () => (await count('mw_agent_pipeline_block_failures_total')) > 0);
      failing = false;
      const scored = await count('mw_agent_predictions_total');
      await until('scoring again', async () => (await count('mw_agent_predictions_total')) > scored + 2);
    } finally {
      await plane.stop();
    }
    const persisted = JSON.parse(await readFile(join(dir, 'config', 'overlay.json'), 'utf8')) as { generation: number };
    expect(persisted.generation).toBe(1);
  });

  it('counts the records whose times it cannot encode and keeps the rest', async () => {
    dir = await mkdtemp(join(tmpdir(), 'mw-dp-time-'));
    // Beyond 2^53 ms: the int64 encoder would throw on every prediction of this replay.
    const { plane, count } = await replayPlane({ dir, fromMs: 1e17, lines: 200, pace: 'asap' });
    await plane.start();
    await until('refused predictions', async () => (await count('mw_agent_predictions_total')) >= 10);
    await plane.stop();
    const predictions = await count('mw_agent_predictions_total');
    expect(await count('mw_agent_record_encode_failures_total', { body: 'prediction' })).toBe(predictions);
    expect(await count('mw_agent_pipeline_block_failures_total')).toBe(0);
    const stored = await bufferedRecords(join(dir, 'buffer'));
    expect(stored.filter((r) => r.body?.$case === 'prediction')).toHaveLength(0);
    const cleaning = stored.filter((r) => r.body?.$case === 'cleaning');
    expect(cleaning.length).toBeGreaterThan(0);
    expect(
      cleaning.flatMap((r) => (r.body?.$case === 'cleaning' ? r.body.value.channels : [])).map((c) => c.channel),
    ).toContain('p.x');
  });
});
