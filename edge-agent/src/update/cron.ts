/**
 * A small 5-field cron matcher (minute hour day-of-month month day-of-week) evaluated in an IANA
 * time zone, enough for maintenance windows: lists, ranges, steps, `*`, month and day names, 7 = Sunday.
 * As in Vixie cron, when both day fields are restricted a day matching either one matches.
 */

interface FieldSpec {
  min: number;
  max: number;
  names?: readonly string[];
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const FIELDS: readonly FieldSpec[] = [
  { min: 0, max: 59 },
  { min: 0, max: 23 },
  { min: 1, max: 31 },
  { min: 1, max: 12, names: MONTHS },
  { min: 0, max: 7, names: DAYS },
];

export interface CronExpr {
  minutes: Set<number>;
  hours: Set<number>;
  daysOfMonth: Set<number>;
  months: Set<number>;
  /** 0 = Sunday (7 folded into 0). */
  daysOfWeek: Set<number>;
  domRestricted: boolean;
  dowRestricted: boolean;
}

/** Local wall-clock fields of an instant in some time zone. */
export interface LocalTime {
  minute: number;
  hour: number;
  day: number;
  month: number;
  weekday: number;
}

/** @throws RangeError naming the bad field. */
export function parseCron(expr: string): CronExpr {
  const parts = expr.trim().split(/\s+/);
  if (parts.length !== 5) throw new RangeError(`cron '${expr}': expected 5 fields, got ${parts.length}`);
  const sets = parts.map((p, i) => parseField(p, FIELDS[i]!, expr));
  const dow = new Set([...sets[4]!].map((d) => d % 7));
  return {
    minutes: sets[0]!,
    hours: sets[1]!,
    daysOfMonth: sets[2]!,
    months: sets[3]!,
    daysOfWeek: dow,
    domRestricted: parts[2] !== '*',
    dowRestricted: parts[4] !== '*',
  };
}

function parseField(field: string, spec: FieldSpec, expr: string): Set<number> {
  const out = new Set<number>();
  for (const item of field.split(',')) {
    const [range = '', stepText, extra] = item.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (extra !== undefined || !Number.isInteger(step) || step < 1) throw bad(expr, item);
    const [lo, hi] = rangeOf(range, spec, expr, stepText !== undefined);
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

function rangeOf(range: string, spec: FieldSpec, expr: string, stepped: boolean): [number, number] {
  if (range === '*') return [spec.min, spec.max];
  const [a, b, extra] = range.split('-');
  if (extra !== undefined) throw bad(expr, range);
  const lo = fieldValue(a ?? '', spec, expr);
  // "5/15" means from 5 to the end in steps of 15.
  const hi = b === undefined ? (stepped ? spec.max : lo) : fieldValue(b, spec, expr);
  if (lo > hi) throw bad(expr, range);
  return [lo, hi];
}

function fieldValue(token: string, spec: FieldSpec, expr: string): number {
  const named = spec.names?.indexOf(token.toUpperCase()) ?? -1;
  if (named >= 0) return named + (spec.min === 1 ? 1 : 0);
  const n = /^\d{1,2}$/.test(token) ? Number(token) : Number.NaN;
  if (!(n >= spec.min && n <= spec.max)) throw bad(expr, token);
  return n;
}

function bad(expr: string, part: string): RangeError {
  return new RangeError(`cron '${expr}': bad value '${part}'`);
}

export function cronMatches(c: CronExpr, t: LocalTime): boolean {
  if (!c.minutes.has(t.minute) || !c.hours.has(t.hour) || !c.months.has(t.month)) return false;
  const dom = c.daysOfMonth.has(t.day);
  const dow = c.daysOfWeek.has(t.weekday);
  if (c.domRestricted && c.dowRestricted) return dom || dow;
  return dom && dow;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Wall-clock fields of `epochMs` in `timeZone` (empty = UTC). @throws RangeError for an unknown zone. */
export function localTime(epochMs: number, timeZone: string): LocalTime {
  const fields: Record<string, string> = {};
  for (const p of formatterFor(timeZone || 'UTC').formatToParts(epochMs)) fields[p.type] = p.value;
  return {
    minute: Number(fields.minute),
    hour: Number(fields.hour),
    day: Number(fields.day),
    month: Number(fields.month),
    weekday: DAYS.indexOf((fields.weekday ?? '').toUpperCase()),
  };
}

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      weekday: 'short',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

const MINUTE_MS = 60_000;

/**
 * True when some start of the window (a minute matching `cron`) lies within the last `durationS`
 * seconds, i.e. the window is open at `nowMs`.
 */
export function windowOpenAt(c: CronExpr, durationS: number, timeZone: string, nowMs: number): boolean {
  const first = Math.floor(nowMs / MINUTE_MS) * MINUTE_MS;
  for (let start = first; start > nowMs - durationS * 1000; start -= MINUTE_MS) {
    if (cronMatches(c, localTime(start, timeZone))) return true;
  }
  return false;
}

/** The next minute at or after `fromMs` matching `cron`, within `horizonMs`; undefined when none. */
export function nextStart(
  c: CronExpr,
  timeZone: string,
  fromMs: number,
  horizonMs = 8 * 86_400_000,
): number | undefined {
  const first = Math.ceil(fromMs / MINUTE_MS) * MINUTE_MS;
  for (let t = first; t <= fromMs + horizonMs; t += MINUTE_MS) {
    if (cronMatches(c, localTime(t, timeZone))) return t;
  }
  return undefined;
}
