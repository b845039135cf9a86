import { describe, expect, it } from 'vitest';
import { decodePayload, type PayloadFormat } from './payload.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const AUTO: PayloadFormat = { format: 'auto', valuePath: 'value', tsPath: 'ts' };

describe('decodePayload', () => {
  it('reads plain numbers, JSON numbers and value/ts objects', () => {
    expect(decodePayload(bytes(' 21.5\n'), AUTO)).toEqual({ ok: true, value: 21.5, tsMs: undefined });
    expect(decodePayload(bytes('{"value": 3, "ts": 1700000000000}'), AUTO)).toEqual({
      ok: true,
      value: 3,
      tsMs: 1_700_000_000_000,
    });
    expect(decodePayload(bytes('{"value": "4.5", "ts": "2026-01-01T00:00:00"}'), AUTO)).toEqual({
      ok: true,
      value: 4.5,
      tsMs: Date.UTC(2026, 0, 1),
    });
    expect(decodePayload(bytes('{"value": null}'), AUTO)).toMatchObject({ ok: true, value: Number.NaN });
  });

  it('follows a configured field path', () => {
    const fmt: PayloadFormat = { format: 'json', valuePath: 'data.temp', tsPath: 'meta.time' };
    expect(decodePayload(bytes('{"data": {"temp": 40}, "meta": {"time": 5}}'), fmt)).toEqual({
      ok: true,
      value: 40,
      tsMs: 5,
    });
    expect(decodePayload(bytes('{"data": {}}'), fmt)).toEqual({
      ok: false,
      error: '"data.temp" is missing or not a number',
    });
  });

  it('refuses what it cannot read with a reason', () => {
    expect(decodePayload(bytes('abc'), AUTO).ok).toBe(false);
    expect(decodePayload(bytes('{"value": 1, "ts": "yesterday"}'), AUTO).ok).toBe(false);
    expect(decodePayload(bytes('{"value": 1}'), { ...AUTO, format: 'number' }).ok).toBe(false);
    expect(decodePayload(bytes('[1]'), AUTO).ok).toBe(false);
  });
});
