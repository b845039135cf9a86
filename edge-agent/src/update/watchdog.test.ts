import { describe, expect, it } from 'vitest';
import { Watchdog, type WatchdogBounds } from './watchdog.js';

function dog(bounds: Partial<WatchdogBounds> = {}) {
  let now = 1_000;
  const trips: string[] = [];
  let passed = 0;
  const d = new Watchdog('v2', { periodMs: 60_000, maxLatencyUs: 0, maxAlertRate: 0, minSamples: 10, ...bounds }, now, {
    now: () => now,
    onTrip: (r) => trips.push(r),
    onPass: () => passed++,
  });
  return { d, trips, passed: () => passed, advance: (ms: number) => (now += ms) };
}

describe('watchdog', () => {
  it('trips on the first throw', () => {
    const { d, trips } = dog();
    d.observe('v2', 10, 'unknown', new Error('index out of range'), undefined);
    expect(trips).toEqual(['model threw: index out of range']);
    d.observe('v2', 10, 'unknown', new Error('again'), undefined);
    expect(trips).toHaveLength(1);
  });

  it('trips on a NaN score from finite inputs but not on a plain unknown decision', () => {
    const { d, trips } = dog();
    d.observe('v2', 10, 'unknown', undefined, undefined);
    expect(trips).toEqual([]);
    d.observe('v2', 10, 'unknown', undefined, Number.NaN);
    expect(trips[0]).toMatch(/non-finite score \(NaN\)/);
  });

  it('trips when more than 1% of inferences exceed the latency bound (p99 over it)', () => {
    const { d, trips } = dog({ maxLatencyUs: 500, minSamples: 100 });
    for (let i = 0; i < 99; i++) d.observe('v2', 100, 'normal', undefined, 0.1);
    d.observe('v2', 900, 'normal', undefined, 0.1);
    expect(trips).toEqual([]); // 1 of 100: p99 still within bound
    d.observe('v2', 900, 'normal', undefined, 0.1);
    expect(trips[0]).toMatch(/latency p99 above 500 µs \(2 of 101/);
  });

  it('trips when the alert rate exceeds its bound once enough samples are in', () => {
    const { d, trips } = dog({ maxAlertRate: 0.2, minSamples: 10 });
    for (let i = 0; i < 5; i++) d.observe('v2', 10, 'alert', undefined, 0.9);
    expect(trips).toEqual([]);
    for (let i = 0; i < 5; i++) d.observe('v2', 10, 'normal', undefined, 0.1);
    expect(trips[0]).toMatch(/alert rate 0.500 above bound 0.2 \(5 of 10\)/);
  });

  it('ignores other versions (the shadow) and passes once the period is over', () => {
    const { d, trips, passed, advance } = dog();
    d.observe('shadow', 10, 'unknown', new Error('x'), undefined);
    expect(trips).toEqual([]);
    advance(60_000);
    d.observe('v2', 10, 'unknown', new Error('late'), undefined);
    expect(trips).toEqual([]);
    expect(passed()).toBe(1);
    expect(d.done).toBe(true);
  });
});
