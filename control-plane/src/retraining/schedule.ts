/** Minimal 5-field cron matching (UTC) for the schedule trigger: *, numbers, ranges, lists, steps. */

const BOUNDS: readonly [number, number][] = [
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 7],
];

export type CronSets = Set<number>[];

/** @throws Error naming the bad field. */
export function parseCronUtc(expr: string): CronSets {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) throw new Error(`cron: expected 5 fields, got ${fields.length}`);
  return fields.map((f, i) => field(f, BOUNDS[i]!, i));
}

function field(text: string, [min, max]: [number, number], index: number): Set<number> {
  const out = new Set<number>();
  for (const item of text.split(',')) {
    const [range, stepText] = item.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    let lo = min;
    let hi = max;
    if (range !== '*') {
      const [a, b] = range!.split('-');
      lo = Number(a);
      hi = b === undefined ? (stepText === undefined ? lo : max) : Number(b);
    }
    if (![lo, hi, step].every(Number.isInteger) || lo < min || hi > max || lo > hi || step < 1)
      throw new Error(`cron: field ${index + 1} (${text}) is not valid`);
    for (let v = lo; v <= hi; v += step) out.add(index === 4 && v === 7 ? 0 : v);
  }
  return out;
}

function matches(c: CronSets, t: Date): boolean {
  return (
    c[0]!.has(t.getUTCMinutes()) &&
    c[1]!.has(t.getUTCHours()) &&
    c[2]!.has(t.getUTCDate()) &&
    c[3]!.has(t.getUTCMonth() + 1) &&
    c[4]!.has(t.getUTCDay())
  );
}

/** Whether a minute matching `c` began in (afterMs, atMs]; looks back at most two days. */
export function firedBetween(c: CronSets, afterMs: number, atMs: number): boolean {
  const minute = 60_000;
  const from = Math.max(Math.floor(afterMs / minute) + 1, Math.floor(atMs / minute) - 2 * 1440);
  for (let m = from; m * minute <= atMs; m++) if (matches(c, new Date(m * minute))) return true;
  return false;
}
