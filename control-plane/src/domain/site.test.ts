import { describe, expect, it } from 'vitest';
import { cronProblem } from './cron.js';
import { InvalidArgumentError } from './errors.js';
import { isIanaTimeZone, type SiteInput, validateSite } from './site.js';

const site = (over: Partial<SiteInput> = {}): SiteInput => ({
  id: 'plant-a',
  displayName: 'Plant A',
  timeZone: 'Europe/Berlin',
  lines: [{ id: 'L1', displayName: 'Line 1' }],
  maintenanceWindows: [{ cron: '0 2 * * SUN', durationS: 7200 }],
  ...over,
});

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof InvalidArgumentError) return String(err.details.field);
    throw err;
  }
  return undefined;
}

describe('cron validation', () => {
  it.each(['* * * * *', '0 2 * * 0', '*/15 8-17 * * MON-FRI', '30 1 1,15 JAN,jul 7', '0 0-23/2 * * *'])(
    'accepts %s',
    (expr) => {
      expect(cronProblem(expr)).toBeUndefined();
    },
  );

  it.each([
    ['0 2 * *', /5 fields/],
    ['60 * * * *', /minute/],
    ['* 24 * * *', /hour/],
    ['* * 0 * *', /day of month/],
    ['* * * 13 *', /month/],
    ['* * * * 8', /day of week/],
    ['5-1 * * * *', /backwards/],
    ['*/0 * * * *', /step/],
    ['a * * * *', /minute/],
    ['1,,2 * * * *', /malformed/],
  ])('refuses %s', (expr, why) => {
    expect(cronProblem(expr)).toMatch(why);
  });
});

describe('time zone validation', () => {
  it('accepts IANA names the runtime knows', () => {
    expect(isIanaTimeZone('Europe/Berlin')).toBe(true);
    expect(isIanaTimeZone('America/Argentina/Buenos_Aires')).toBe(true);
    expect(isIanaTimeZone('UTC')).toBe(true);
  });

  it('refuses unknown names and bare offsets', () => {
    expect(isIanaTimeZone('Mars/Olympus')).toBe(false);
    expect(isIanaTimeZone('+01:00')).toBe(false);
    expect(isIanaTimeZone('')).toBe(false);
  });
});

describe('validateSite', () => {
  it('defaults an empty time zone to UTC', () => {
    expect(validateSite(site({ timeZone: '' })).timeZone).toBe('UTC');
  });

  it('names the offending field', () => {
    expect(fieldOf(() => validateSite(site({ id: 'bad id' })))).toBe('site.id');
    expect(fieldOf(() => validateSite(site({ timeZone: 'Nowhere/Else' })))).toBe('site.time_zone');
    expect(
      fieldOf(() =>
        validateSite(
          site({
            lines: [
              { id: 'L1', displayName: '' },
              { id: 'L1', displayName: '' },
            ],
          }),
        ),
      ),
    ).toBe('site.lines[1].id');
    const badCron = [
      { cron: '0 2 * * SUN', durationS: 3600 },
      { cron: '0 2 * *', durationS: 3600 },
    ];
    expect(fieldOf(() => validateSite(site({ maintenanceWindows: badCron })))).toBe('site.maintenance_windows[1].cron');
    const badDuration = [{ cron: '0 2 * * SUN', durationS: 0 }];
    expect(fieldOf(() => validateSite(site({ maintenanceWindows: badDuration })))).toBe(
      'site.maintenance_windows[0].duration_s',
    );
  });
});
