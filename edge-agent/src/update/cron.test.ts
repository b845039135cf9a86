import { describe, expect, it } from 'vitest';
import { cronMatches, localTime, nextStart, parseCron, windowOpenAt } from './cron.js';

const utc = (iso: string) => Date.parse(iso);

describe('cron matcher', () => {
  it('matches lists, ranges, steps and names', () => {
    const c = parseCron('*/15 2-4 * JAN,jul MON-FRI');
    expect([...c.minutes]).toEqual([0, 15, 30, 45]);
    expect([...c.hours]).toEqual([2, 3, 4]);
    expect([...c.months]).toEqual([1, 7]);
    expect([...c.daysOfWeek]).toEqual([1, 2, 3, 4, 5]);
    // Wednesday 2026-07-01 03:30 UTC.
    expect(cronMatches(c, localTime(utc('2026-07-01T03:30:00Z'), 'UTC'))).toBe(true);
    expect(cronMatches(c, localTime(utc('2026-07-04T03:30:00Z'), 'UTC'))).toBe(false);
  });

  it('reads 7 as Sunday and a stepped single value as a run to the end', () => {
    expect([...parseCron('0 0 * * 7').daysOfWeek]).toEqual([0]);
    expect([...parseCron('5/20 * * * *').minutes]).toEqual([5, 25, 45]);
  });

  it('matches either day field when both are restricted, as Vixie cron does', () => {
    const c = parseCron('0 0 1 * SUN');
    expect(cronMatches(c, localTime(utc('2026-06-01T00:00:00Z'), 'UTC'))).toBe(true); // 1st, a Monday
    expect(cronMatches(c, localTime(utc('2026-06-07T00:00:00Z'), 'UTC'))).toBe(true); // a Sunday
    expect(cronMatches(c, localTime(utc('2026-06-08T00:00:00Z'), 'UTC'))).toBe(false);
  });

  it('rejects malformed expressions, naming the bad part', () => {
    expect(() => parseCron('* * * *')).toThrow(/5 fields/);
    expect(() => parseCron('60 * * * *')).toThrow(/'60'/);
    expect(() => parseCron('* 5-2 * * *')).toThrow(/'5-2'/);
    expect(() => parseCron('*/0 * * * *')).toThrow(RangeError);
    expect(() => parseCron('* * * FOO *')).toThrow(RangeError);
  });
});

describe('maintenance windows in the site time zone', () => {
  // Every day 02:00 for 2 h in Berlin (CEST, UTC+2 in June).
  const nightly = parseCron('0 2 * * *');

  it('is open from the local start for the duration and closed outside', () => {
    expect(windowOpenAt(nightly, 7200, 'Europe/Berlin', utc('2026-06-10T00:00:00Z'))).toBe(true);
    expect(windowOpenAt(nightly, 7200, 'Europe/Berlin', utc('2026-06-10T01:59:59Z'))).toBe(true);
    expect(windowOpenAt(nightly, 7200, 'Europe/Berlin', utc('2026-06-10T02:00:00Z'))).toBe(false);
    expect(windowOpenAt(nightly, 7200, 'Europe/Berlin', utc('2026-06-09T23:59:00Z'))).toBe(false);
    // The same instant is outside the window when read in UTC.
    expect(windowOpenAt(nightly, 7200, 'UTC', utc('2026-06-10T00:30:00Z'))).toBe(false);
  });

  it('follows daylight saving time: the start moves in UTC with the season', () => {
    // January: CET, UTC+1, so 02:00 local is 01:00 UTC.
    expect(windowOpenAt(nightly, 3600, 'Europe/Berlin', utc('2026-01-10T01:30:00Z'))).toBe(true);
    expect(windowOpenAt(nightly, 3600, 'Europe/Berlin', utc('2026-01-10T00:30:00Z'))).toBe(false);
  });

  it('handles windows that span midnight and zones west of UTC', () => {
    const late = parseCron('30 23 * * FRI');
    // Friday 23:30 in Chicago (CDT, UTC-5) is Saturday 04:30 UTC; open 1 h.
    expect(windowOpenAt(late, 3600, 'America/Chicago', utc('2026-06-13T05:15:00Z'))).toBe(true);
    expect(windowOpenAt(late, 3600, 'America/Chicago', utc('2026-06-13T05:31:00Z'))).toBe(false);
  });

  it('finds the next start', () => {
    expect(nextStart(nightly, 'Europe/Berlin', utc('2026-06-10T08:00:00Z'))).toBe(utc('2026-06-11T00:00:00Z'));
    expect(nextStart(parseCron('0 0 30 2 *'), 'UTC', utc('2026-06-10T08:00:00Z'))).toBeUndefined();
  });

  it('throws for an unknown time zone', () => {
    expect(() => localTime(0, 'Mars/Olympus')).toThrow(RangeError);
  });
});
