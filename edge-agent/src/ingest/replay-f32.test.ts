import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { SampleBlock } from '../domain/channel.js';
import { VirtualClock } from './clock.js';
import { F32ReplaySource } from './replay-f32.js';

// The shared data lives beside the repository: <repo>/../shared/data/bearings.
const DATA = join(dirname(fileURLToPath(import.meta.url)), '../../../../shared/data/bearings');
const FEMTO = join(DATA, 'femto/femto_Bearing1_1.json');
const CWRU = join(DATA, 'cwru/cwru_0hp_IR021_DE12k.json');

type Block = { channel: string; t0Ms: number; rate: number; values: Float64Array };
const collect = (out: Block[]) => (b: SampleBlock) =>
  out.push({ channel: b.channel, t0Ms: b.t0Ms, rate: b.sampleRateHz, values: b.values.slice(0, b.length) });

async function floats(path: string, from: number, count: number): Promise<number[]> {
  const buf = await readFile(path);
  return Array.from({ length: count }, (_, i) => buf.readFloatLE((from + i) * 4));
}

describe('F32ReplaySource', () => {
  it('replays the first FEMTO snapshots as one 2560-sample block per channel at the sidecar timestamps', async () => {
    const sidecar = JSON.parse(await readFile(FEMTO, 'utf8'));
    const src = await F32ReplaySource.open(
      { id: 'femto', sidecar: FEMTO, pace: 'asap', maxSnapshots: 3 },
      { clock: new VirtualClock(0) },
    );
    expect(src.channels.map((c) => [c.name, c.unit, c.sampleRateHz, c.kind, c.asset])).toEqual([
      ['Bearing1_1.horizontal_acc', 'g', 25_600, 'vibration', 'Bearing1_1'],
      ['Bearing1_1.vertical_acc', 'g', 25_600, 'vibration', 'Bearing1_1'],
    ]);
    const blocks: Block[] = [];
    await src.start(collect(blocks));
    expect(await src.done()).toMatchObject({ blocks: 3, samples: 3 * 2 * 2560, finished: true });
    expect(blocks.map((b) => b.t0Ms)).toEqual(
      [0, 0, 1, 1, 2, 2].map((k) => Date.parse(`${sidecar.snapshots[k].timestamp}Z`)),
    );
    expect(blocks[2]!.t0Ms - blocks[0]!.t0Ms).toBe(100_000);

    const raw = await floats(join(DATA, 'femto/femto_Bearing1_1.f32'), 2 * 2560 * 2, 2560 * 2);
    expect(Array.from(blocks[4]!.values)).toEqual(raw.filter((_, i) => i % 2 === 0));
    expect(Array.from(blocks[5]!.values)).toEqual(raw.filter((_, i) => i % 2 === 1));
    for (let k = 0; k < 3; k++) {
      const peak = Math.max(...blocks.slice(2 * k, 2 * k + 2).flatMap((b) => Array.from(b.values, Math.abs)));
      expect(peak).toBeCloseTo(sidecar.snapshots[k].peak_abs_g, 2);
    }
  });

  it('compresses the time between snapshots by the speed factor in virtual time', async () => {
    const clock = new VirtualClock(5_000_000);
    const src = await F32ReplaySource.open(
      { id: 'femto', sidecar: FEMTO, pace: 100, timestamps: 'replay', fromSnapshot: 10, maxSnapshots: 3 },
      { clock },
    );
    const blocks: Block[] = [];
    await src.start(collect(blocks));
    // Advance only while the source waits on the clock, so file I/O never races virtual time.
    while (!src.stats().finished) {
      if (clock.pending() > 0) await clock.advanceAsync(100);
      else await new Promise((r) => setImmediate(r));
    }
    expect(blocks.filter((b) => b.channel.endsWith('horizontal_acc')).map((b) => b.t0Ms)).toEqual([
      5_000_000, 5_001_000, 5_002_000,
    ]);
  });

  it('replays a continuous CWRU recording in blocks of a tenth of a second', async () => {
    const src = await F32ReplaySource.open(
      { id: 'cwru', sidecar: CWRU, asset: 'de', pace: 'asap', startTimeMs: 0 },
      { clock: new VirtualClock(0) },
    );
    const blocks: Block[] = [];
    await src.start(collect(blocks));
    const stats = await src.done();
    expect(src.channels.map((c) => c.name)).toEqual(['de.drive_end_acc', 'de.fan_end_acc', 'de.base_acc']);
    expect(stats.blocks).toBe(Math.floor(122_136 / 1200));
    const raw = await floats(join(DATA, 'cwru/cwru_0hp_IR021_DE12k.f32'), 1200 * 3, 1200 * 3);
    const second = blocks.filter((b) => b.channel === 'de.fan_end_acc')[1]!;
    expect(second.t0Ms).toBe(100);
    expect(Array.from(second.values)).toEqual(raw.filter((_, i) => i % 3 === 1));
  });

  it('rejects a missing sidecar with NOT_FOUND', async () => {
    await expect(
      F32ReplaySource.open({ id: 'x', sidecar: join(DATA, 'nope.json') }, { clock: new VirtualClock(0) }),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });
});
