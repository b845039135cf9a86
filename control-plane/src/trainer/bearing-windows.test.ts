import { describe, expect, it } from 'vitest';
import type { DatasetRow } from '../retraining/domain.js';
import { type CapturedWindow, rawRefs, readWindows, runsOf, type WindowSpec } from './bearing-windows.js';

const spec: WindowSpec = { channels: ['h', 'v'], length: 4, sampleRateHz: 1000, shaftHz: 25 };

function row(over: Partial<DatasetRow> & { channels?: string[]; rate?: number; bytes?: number }): DatasetRow {
  const { channels = ['m1.h', 'm1.v'], rate = 1000, bytes = 16, ...rest } = over;
  return {
    sample_id: 's',
    prediction_id: 'p',
    agent_id: 'a',
    site_id: 'site',
    asset: 'm1',
    ts_ms: 0,
    window_start_ms: 1000,
    window_end_ms: 1004,
    model: 'b',
    model_version: '1',
    capture_reason: 'random',
    score: 0,
    decision: 'normal',
    features: {},
    label: null,
    label_note: '',
    raw: channels.map((channel, i) => ({
      channel,
      unit: 'g',
      sample_rate_hz: rate,
      start_ms: 1000,
      key: 'blob',
      offset: i * 16,
      bytes,
    })),
    ...rest,
  };
}

describe('rawRefs', () => {
  it('resolves artifact channels as the agent does: the asset’s name, else relative to the asset', () => {
    const refs = rawRefs(row({ channels: ['m1.v', 'h', 'm1.h'] }), spec);
    expect(typeof refs === 'string' ? refs : refs.map((r) => r.channel)).toEqual(['h', 'm1.v']);
  });

  it('names why a row cannot feed the model', () => {
    expect(rawRefs(row({ channels: ['m1.h'] }), spec)).toBe('missing_channel');
    expect(rawRefs(row({ rate: 2000 }), spec)).toBe('sample_rate');
    expect(rawRefs(row({ bytes: 12 }), spec)).toBe('short_window');
  });
});

describe('readWindows', () => {
  it('decodes each channel’s float32 little-endian byte range of the row’s object', async () => {
    const blob = Buffer.alloc(32);
    for (let i = 0; i < 8; i++) blob.writeFloatLE(i + 0.5, i * 4);
    const { windows, skipped } = await readWindows([row({}), row({ channels: [] })], spec, async () => blob);
    expect(windows).toHaveLength(1);
    expect(windows[0]!.channels.map((c) => [...c])).toEqual([
      [0.5, 1.5, 2.5, 3.5],
      [4.5, 5.5, 6.5, 7.5],
    ]);
    expect(windows[0]).toMatchObject({ machine: 'a/m1', tMs: 1000, failure: false });
    expect(skipped.missing_channel).toBe(1);
  });

  it('marks only random captures and windows labelled healthy as baseline (alert captures lean abnormal)', async () => {
    const blob = Buffer.alloc(32);
    const rows = [
      row({ capture_reason: 'random' }),
      row({ capture_reason: 'alert' }),
      row({ capture_reason: 'uncertain' }),
      row({ capture_reason: 'alert', label: 'false_alarm' }),
      row({ capture_reason: 'label', label: 'normal' }),
      row({ capture_reason: 'random', label: 'confirmed_failure' }),
    ];
    const { windows } = await readWindows(rows, spec, async () => blob);
    expect(windows.map((x) => x.baseline)).toEqual([true, false, false, true, true, false]);
  });

  it('refuses a byte range beyond the object', async () => {
    await expect(readWindows([row({})], spec, async () => Buffer.alloc(20))).rejects.toThrow(/blob: 20 bytes/);
  });
});

describe('runsOf', () => {
  const w = (machine: string, tMs: number, failure = false): CapturedWindow => ({
    machine,
    tMs,
    failure,
    baseline: !failure,
    channels: [Float32Array.of(tMs, 0, 0, 0), Float32Array.of(-tMs, 0, 0, 0)],
  });

  it('orders each machine’s windows in time and interleaves channels per sample', () => {
    const runs = runsOf([w('b', 5), w('a', 20), w('a', 10)], spec);
    expect(runs.map((r) => [r.run.name, r.run.tMs, r.failed])).toEqual([
      ['a#0', [10, 20], false],
      ['b#0', [5], false],
    ]);
    expect([...runs[0]!.run.data.subarray(0, 2)]).toEqual([10, -10]);
    expect(runs[0]!.run.data[8]).toBe(20);
  });

  it('ends a run at a confirmed failure and starts the next one after it', () => {
    const runs = runsOf([w('a', 1), w('a', 2, true), w('a', 3), w('a', 4)], spec);
    expect(runs.map((r) => [r.run.tMs, r.failed, r.run.failureMs])).toEqual([
      [[1, 2], true, 2],
      [[3, 4], false, 4],
    ]);
  });
});
