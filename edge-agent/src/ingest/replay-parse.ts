/** Pure parsing of replay lines; every failure is a message naming what is wrong, never a throw. */

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const ISO_DATE = /^\d{4}-\d{2}-\d{2}/;
const HAS_ZONE = /(Z|[+-]\d{2}:?\d{2})$/i;
const NAMED_NUMBERS: Record<string, number> = {
  nan: Number.NaN,
  inf: Number.POSITIVE_INFINITY,
  infinity: Number.POSITIVE_INFINITY,
  '+inf': Number.POSITIVE_INFINITY,
  '+infinity': Number.POSITIVE_INFINITY,
  '-inf': Number.NEGATIVE_INFINITY,
  '-infinity': Number.NEGATIVE_INFINITY,
};

/**
 * Milliseconds since the epoch from a number (ms), a numeric string (ms) or an ISO 8601 string.
 * ISO strings without a zone are read as UTC, not local time, so replays do not depend on the host.
 */
export function parseTimestamp(raw: unknown): Parsed<number> {
  if (typeof raw === 'number') return Number.isFinite(raw) ? ok(raw) : fail(`timestamp ${raw} is not finite`);
  if (raw === undefined || raw === null || raw === '') return fail('timestamp is missing');
  if (typeof raw !== 'string') return fail(`timestamp ${JSON.stringify(raw)} is not a number or string`);
  const s = raw.trim();
  if (!ISO_DATE.test(s)) {
    const n = Number(s);
    return Number.isFinite(n) ? ok(n) : fail(`timestamp "${s}" is neither milliseconds nor ISO 8601`);
  }
  const ms = Date.parse(HAS_ZONE.test(s) ? s : `${s}Z`);
  return Number.isNaN(ms) ? fail(`timestamp "${s}" is not a valid ISO 8601 date`) : ok(ms);
}

/** A sample value: a number, `null` or a NaN/Infinity spelling (the sensor reported no value). */
export function parseValue(raw: unknown): Parsed<number> {
  if (typeof raw === 'number') return ok(raw);
  if (raw === null) return ok(Number.NaN);
  if (typeof raw !== 'string') return fail(`value ${JSON.stringify(raw)} is not a number`);
  const s = raw.trim();
  const named = NAMED_NUMBERS[s.toLowerCase()];
  if (named !== undefined) return ok(named);
  const n = s === '' ? Number.NaN : Number(s);
  return Number.isNaN(n) ? fail(`value "${s}" is not a number`) : ok(n);
}

/** Splits one CSV record; handles double-quoted fields with escaped quotes (no embedded newlines). */
export function splitCsv(line: string, delimiter: string): Parsed<string[]> {
  const out: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let field = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return fail('unterminated quoted field');
        field += line.slice(i, q);
        if (line[q + 1] === '"') {
          field += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      if (i < line.length && line[i] !== delimiter) return fail('text after a closing quote');
      out.push(field);
      i++;
    } else {
      const d = line.indexOf(delimiter, i);
      const end = d < 0 ? line.length : d;
      out.push(line.slice(i, end).trim());
      i = end + 1;
    }
  }
  return ok(out);
}

/** One sample parsed from a line: index into the configured channels, time and value. */
export interface LineSample {
  channel: number;
  tMs: number;
  value: number;
}

function ok<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

function fail<T>(error: string): Parsed<T> {
  return { ok: false, error };
}

export { fail as parseFail, ok as parseOk };
