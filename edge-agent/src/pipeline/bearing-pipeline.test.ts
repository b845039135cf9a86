import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AssetDriftConfigSchema, ChannelCleaningConfigSchema } from '../cleaning/config.js';
import type { PredictionEvent } from '../domain/prediction.js';
import { ChannelFeatureConfigSchema } from '../features/config.js';
import { systemClock } from '../ingest/clock.js';
import { F32ReplaySource } from '../ingest/replay-f32.js';
import { defaultArtifact, defaultIndicatorConfig } from '../pack/bearing/defaults.js';
import { PRONOSTIA } from '../pack/bearing/geometry.js';
import { buildManifest } from '../pack/bearing/manifest.js';
import { loadBearingHealth } from '../pack/bearing/model.js';
import { EdgePipeline } from './edge-pipeline.js';

const SIDECAR = fileURLToPath(new URL('../../../../shared/data/bearings/femto/femto_Bearing1_1.json', import.meta.url));

describe('the agent pipeline with the bearing pack on a real FEMTO run', () => {
  it('commissions on the first snapshots, then alerts before failure naming what moved', async () => {
    expect(existsSync(SIDECAR), `FEMTO data missing at ${SIDECAR}`).toBe(true);
    const source = await F32ReplaySource.open(
      { id: 'femto', sidecar: SIDECAR, pace: 'asap', timestamps: 'original' },
      { clock: systemClock },
    );
    const artifact = {
      ...defaultArtifact({
        channels: ['horizontal_acc', 'vertical_acc'],
        shaftHz: 30,
        indicators: defaultIndicatorConfig(25_600, 2560, PRONOSTIA),
      }),
      window: { length: 2560, everyS: 10 },
    };
    const bytes = new TextEncoder().encode(JSON.stringify(artifact));
    const model = loadBearingHealth(
      buildManifest(artifact, { model: 'bearing', version: '1.0.0', sequence: 1 }),
      bytes,
    );
    const predictions: PredictionEvent[] = [];
    const pipeline = new EdgePipeline({
      agentId: 'a',
      bootId: 'b',
      channels: source.channels,
      // Centred spike filter as in production: an impact train is not an isolated spike.
      cleaning: () => ChannelCleaningConfigSchema.parse({}),
      features: () => ChannelFeatureConfigSchema.parse({ windowSize: 2560 }),
      drift: AssetDriftConfigSchema.parse({}),
      models: { active: () => model, shadow: () => undefined },
      now: Date.now,
      onPrediction: (p) => predictions.push({ ...p, reasons: [...p.reasons] }),
      onModelError: (err) => {
        throw err;
      },
    });
    await source.start(pipeline.accept);
    await source.done();
    pipeline.flush();
    const snapshots = source.stats().blocks;
    expect(predictions.length).toBe(snapshots);
    expect(predictions[0]!.decision).toBe('unknown');
    const firstAlert = predictions.findIndex((p) => p.decision === 'alert');
    expect(firstAlert).toBeGreaterThan(0);
    // Bearing1_1 fails at its last snapshot; its last tenth is kept at full rate, so the alert
    // must come while there is still life left, and it must say what moved.
    const lastMs = predictions.at(-1)!.windowStartMs;
    expect(lastMs - predictions[firstAlert]!.windowStartMs).toBeGreaterThan(10 * 60_000);
    const alert = predictions[firstAlert]!;
    expect(alert.reasons.length).toBeGreaterThan(0);
    expect(alert.reasons[0]!.text).toMatch(/baseline/);
  });
});
