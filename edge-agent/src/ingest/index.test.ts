import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../domain/errors.js';
import { createSources, startSources, stopSources, VirtualClock } from './index.js';

const FEMTO = join(
  dirname(fileURLToPath(import.meta.url)),
  '../../../../shared/data/bearings/femto/femto_Bearing1_2.json',
);

let dir: string;
let csv: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mw-sources-'));
  csv = join(dir, 'line.csv');
  await writeFile(csv, 'timestamp,flow\n0,1.5\n50,1.6\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const csvSource = (id: string, name: string) => ({
  type: 'replay_csv' as const,
  id,
  path: csv,
  pace: 'asap' as const,
  channels: [{ name, field: 'flow', unit: 'm3/h', sampleRateHz: 20, asset: 'line' }],
});

describe('createSources', () => {
  it('builds every kind of source from one config list', async () => {
    const sources = await createSources(
      [
        { type: 'simulator', id: 'sim', assets: [{ name: 'pump1' }, { name: 'pump2' }] },
        csvSource('csv', 'line.flow'),
        {
          type: 'replay_ndjson',
          id: 'nd',
          path: join(dir, 'x.ndjson'),
          channels: [{ name: 'line.level', sampleRateHz: 1, asset: 'line' }],
        },
        { type: 'replay_f32', id: 'femto', sidecar: FEMTO, asset: 'b12' },
        {
          type: 'mqtt',
          id: 'mqtt',
          topics: [{ filter: 'a/+/t', channel: { name: 'a.t', sampleRateHz: 1, asset: 'a' } }],
        },
        {
          type: 'modbus',
          id: 'plc',
          host: '127.0.0.1',
          channels: [{ name: 'plc.p', asset: 'press', register: 'holding', address: 0 }],
        },
      ],
      { clock: new VirtualClock(0) },
    );
    expect(sources.map((s) => s.id)).toEqual(['sim', 'csv', 'nd', 'femto', 'mqtt', 'plc']);
    expect(sources.flatMap((s) => s.channels.map((c) => c.name))).toEqual([
      'pump1.vib_h',
      'pump1.vib_v',
      'pump1.temp_de',
      'pump1.temp_nde',
      'pump1.current',
      'pump2.vib_h',
      'pump2.vib_v',
      'pump2.temp_de',
      'pump2.temp_nde',
      'pump2.current',
      'line.flow',
      'line.level',
      'b12.horizontal_acc',
      'b12.vertical_acc',
      'a.t',
      'plc.p',
    ]);
  });

  it('refuses a channel name used by two sources, naming both', async () => {
    const err = await createSources([csvSource('first', 'line.flow'), csvSource('second', 'line.flow')], {
      clock: new VirtualClock(0),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual([
      'channel "line.flow" is defined by both source "first" and source "second"',
    ]);
  });

  it('reports every bad key with its path', async () => {
    const err = await createSources(
      [
        { type: 'replay_csv', id: 'a', channels: [] },
        {
          type: 'modbus',
          id: 'b',
          host: 'h',
          channels: [{ name: 'x', asset: 'y', register: 'coil', address: 1, dataType: 'float32' }],
        },
        { type: 'kafka', id: 'c' },
      ],
      { clock: new VirtualClock(0) },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const issues = (err as ConfigError).issues.join('\n');
    expect(issues).toContain('sources[0].path');
    expect(issues).toContain('sources[0].channels');
    expect(issues).toContain('sources[1].channels[0].dataType: float32 does not fit a coil');
    expect(issues).toContain('sources[2].type');
  });

  it('runs several sources at once into one sink', async () => {
    const clock = new VirtualClock(0);
    const sources = await createSources(
      [{ type: 'simulator', id: 'sim', startTimeMs: 0, assets: [{ name: 'm' }] }, csvSource('csv', 'line.flow')],
      { clock },
    );
    const seen = new Set<string>();
    await startSources(sources, (b) => seen.add(b.channel));
    while (!seen.has('line.flow')) await new Promise((r) => setImmediate(r));
    await clock.advanceAsync(200);
    await stopSources(sources);
    expect(seen.has('line.flow')).toBe(true);
    expect(seen.has('m.vib_h')).toBe(true);
  });
});
