/** Validation of standard 5-field cron expressions (minute hour day-of-month month day-of-week). */

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] as const;
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const;

const FIELDS: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS },
  // 7 is Sunday too, as in Vixie cron.
  { name: 'day of week', min: 0, max: 7, names: DAYS },
];

/** Returns why `expr` is not a valid 5-field cron expression, or undefined when it is. */
export function cronProblem(expr: string): string | undefined {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) return `expected 5 fields (minute hour day month weekday), got ${fields.length}`;
  for (const [i, spec] of FIELDS.entries()) {
    const problem = fieldProblem(fields[i]!, spec);
    if (problem) return `${spec.name}: ${problem}`;
  }
  return undefined;
}

function fieldProblem(field: string, spec: FieldSpec): string | undefined {
  for (const item of field.split(',')) {
    const problem = itemProblem(item, spec);
    if (problem) return problem;
  }
  return undefined;
}

function itemProblem(item: string, spec: FieldSpec): string | undefined {
  const [range, step, extra] = item.split('/');
  if (extra !== undefined || range === undefined || range === '') return `malformed ${JSON.stringify(item)}`;
  if (step !== undefined && !/^[1-9]\d{0,2}$/.test(step)) return `bad step ${JSON.stringify(step)}`;
  if (range === '*') return undefined;
  const [lo, hi, more] = range.split('-');
  if (more !== undefined) return `malformed range ${JSON.stringify(range)}`;
  const a = value(lo!, spec);
  if (a === undefined) return `${JSON.stringify(lo)} is not in ${spec.min}-${spec.max}`;
  if (hi === undefined) return undefined;
  const b = value(hi, spec);
  if (b === undefined) return `${JSON.stringify(hi)} is not in ${spec.min}-${spec.max}`;
  return a > b ? `range ${JSON.stringify(range)} runs backwards` : undefined;
}

function value(token: string, spec: FieldSpec): number | undefined {
  const named = spec.names?.indexOf(token.toUpperCase() as never) ?? -1;
  if (named >= 0) return named + (spec.min === 1 ? 1 : 0);
  if (!/^\d{1,2}$/.test(token)) return undefined;
  const n = Number(token);
  return n >= spec.min && n <= spec.max ? n : undefined;
}
