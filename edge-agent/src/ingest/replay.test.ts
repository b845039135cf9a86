import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SampleBlock } from '../domain/channel.js';
import { MillwrightError } from '../domain/errors.js';
import { VirtualClock } from './clock.js';
import { LineReplaySource } from './replay.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mw-replay-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const CHANNELS = [
  { name: 'p1.temp', field: 'temp', unit: 'degC', sampleRateHz: 1, asset: 'p1' },
  { name: 'p1.press', field: 'press', unit: 'bar', sampleRateHz: 1, asset: 'p1' },
];

type Got = { channel: string; t: number; v: number };
const collect = (out: Got[]) => (b: SampleBlock) => {
  for (let i = 0; i < b.length; i++)
    out.push({ channel: b.channel, t: b.t0Ms + (i * 1000) / b.sampleRateHz, v: b.values[i]! });
};

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

describe('CSV replay', () => {
  it('replays every good row, skips malformed lines and names file and line for each', async () => {
    const path = await file(
      'a.csv',
      [
        'timestamp,temp,press',
        '1000,20.5,1.25',
        '2026-01-01T00:00:01.5Z,21,',
        'oops,22,1.3',
        '3000,abc,1.4',
        '4000,23',
        '',
        '"5000","24.5","NaN"',
        '2026-01-01T00:00:06,25,1.6',
      ].join('\r\n'),
    );
    const bad: string[] = [];
    const src = LineReplaySource.csv(
      { id: 'csv', path, pace: 'asap', channels: CHANNELS },
      { clock: new VirtualClock(0), onBadLine: (m) => bad.push(m) },
    );
    const got: Got[] = [];
    await src.start(collect(got));
    const stats = await src.done();
    const iso = Date.UTC(2026, 0, 1);
    expect(got).toEqual([
      { channel: 'p1.temp', t: 1000, v: 20.5 },
      { channel: 'p1.press', t: 1000, v: 1.25 },
      { channel: 'p1.temp', t: iso + 1500, v: 21 },
      { channel: 'p1.temp', t: 5000, v: 24.5 },
      { channel: 'p1.press', t: 5000, v: Number.NaN },
      { channel: 'p1.temp', t: iso + 6000, v: 25 },
      { channel: 'p1.press', t: iso + 6000, v: 1.6 },
    ]);
    expect(stats.badLines).toBe(3);
    expect(bad).toEqual([
      `${path}:4: timestamp "oops" is neither milliseconds nor ISO 8601`,
      `${path}:5: column "temp": value "abc" is not a number`,
      `${path}:6: expected 3 fields, got 2`,
    ]);
    expect(stats.recentErrors).toEqual(bad);
    expect(stats.finished).toBe(true);
  });

  it('refuses a file whose header lacks a configured column, naming file and line 1', async () => {
    const path = await file('b.csv', 'timestamp,temp\n1,2\n');
    const src = LineReplaySource.csv(
      { id: 'csv', path, pace: 'asap', channels: CHANNELS },
      { clock: new VirtualClock(0) },
    );
    const err = await src.start(() => undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MillwrightError);
    expect((err as MillwrightError).code).toBe('INVALID');
    expect((err as Error).message).toContain(`${path}:1: header lacks column(s) press`);
  });

  it('reports a missing file as NOT_FOUND', async () => {
    const src = LineReplaySource.csv(
      { id: 'csv', path: join(dir, 'none.csv'), channels: CHANNELS },
      { clock: new VirtualClock(0) },
    );
    await expect(src.start(() => undefined)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('streams a large file to the end', async () => {
    const rows = ['timestamp,temp,press'];
    for (let i = 0; i < 100_000; i++) rows.push(`${i * 10},${i},${-i}`);
    const path = await file('big.csv', rows.join('\n'));
    let n = 0;
    let last = 0;
    const src = LineReplaySource.csv(
      { id: 'csv', path, pace: 'asap', channels: CHANNELS },
      { clock: new VirtualClock(0) },
    );
    await src.start((b) => {
      n++;
      last = b.values[0]!;
    });
    const stats = await src.done();
    expect(n).toBe(200_000);
    expect(last).toBe(-99_999);
    expect(stats).toMatchObject({ lines: 100_001, samples: 200_000, badLines: 0 });
  });

  it('paces rows by their timestamps on the clock, scaled by the speed factor', async () => {
    const path = await file('paced.csv', 'timestamp,temp,press\n10000,1,1\n11000,2,2\n12000,3,3\n15000,4,4\n');
    const clock = new VirtualClock(1_000_000);
    const seen: Array<{ v: number; at: number; t: number }> = [];
    const src = LineReplaySource.csv(
      { id: 'csv', path, pace: 10, timestamps: 'replay', channels: CHANNELS.slice(0, 1) },
      { clock },
    );
    await src.start((b) => seen.push({ v: b.values[0]!, at: clock.now(), t: b.t0Ms }));
    // let the first row be read so the replay origin is the clock's start time
    while (clock.pending() === 0) await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 8; i++) await clock.advanceAsync(50);
    expect(seen.map((s) => s.v)).toEqual([1, 2, 3]);
    for (let i = 0; i < 10; i++) await clock.advanceAsync(50);
    await src.done();
    expect(seen.map((s) => s.t)).toEqual([1_000_000, 1_000_100, 1_000_200, 1_000_500]);
    for (const s of seen) expect(s.at).toBeGreaterThanOrEqual(s.t);
  });

  it('stops mid-file without delivering more blocks', async () => {
    const path = await file('stop.csv', 'timestamp,temp,press\n0,1,1\n60000,2,2\n');
    const clock = new VirtualClock(0);
    const got: Got[] = [];
    const src = LineReplaySource.csv({ id: 'csv', path, channels: CHANNELS.slice(0, 1) }, { clock });
    await src.start(collect(got));
    await clock.advanceAsync(1000);
    await src.stop();
    await clock.advanceAsync(120_000);
    expect(got.map((g) => g.v)).toEqual([1]);
  });
});

describe('NDJSON replay', () => {
  it('accepts long and wide lines and skips malformed ones with file and line', async () => {
    const path = await file(
      'a.ndjson',
      [
        '{"ts": 1000, "channel": "temp", "value": 20.5}',
        '{"ts": "2026-01-01T00:00:02Z", "temp": 21, "press": 1.5}',
        '{"ts": 3000, "channel": "other", "value": 1}',
        '{"ts": 3500, "press": null}',
        '{"ts": 4000, "temp": "hot"}',
        'not json',
        '{"value": 3}',
        '[1,2]',
        '{"ts": 6000, "channel": "press", "value": "1.75"}',
      ].join('\n'),
    );
    const src = LineReplaySource.ndjson(
      { id: 'nd', path, pace: 'asap', channels: CHANNELS },
      { clock: new VirtualClock(0) },
    );
    const got: Got[] = [];
    await src.start(collect(got));
    const stats = await src.done();
    expect(got).toEqual([
      { channel: 'p1.temp', t: 1000, v: 20.5 },
      { channel: 'p1.temp', t: Date.UTC(2026, 0, 1, 0, 0, 2), v: 21 },
      { channel: 'p1.press', t: Date.UTC(2026, 0, 1, 0, 0, 2), v: 1.5 },
      { channel: 'p1.press', t: 3500, v: Number.NaN },
      { channel: 'p1.press', t: 6000, v: 1.75 },
    ]);
    expect(stats.unmatchedLines).toBe(1);
    expect(stats.badLines).toBe(4);
    expect(stats.recentErrors[0]).toBe(`${path}:5: "temp": value "hot" is not a number`);
    expect(stats.recentErrors[1]).toMatch(new RegExp(`^${path.replace(/[.]/g, '\\.')}:6: not valid JSON`));
    expect(stats.recentErrors[2]).toBe(`${path}:7: "ts": timestamp is missing`);
    expect(stats.recentErrors[3]).toBe(`${path}:8: line is not a JSON object`);
  });
});
