import { mkdtemp, rm } from 'node:fs/promises';
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
import { DataPlane } from './data-plane.js';
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
