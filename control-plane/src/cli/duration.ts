import { CliError, EXIT } from './client.js';

const UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `90s`, `15m`, `24h`, `7d` or plain seconds, to whole seconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!m)
    throw new CliError(`${flag} expects a duration like 90s, 15m, 24h or 7d, got ${JSON.stringify(text)}`, EXIT.USAGE);
  return Number(m[1]) * UNIT_S[m[2] || 's']!;
}

export function formatDuration(s: number): string {
  for (const [unit, n] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (s >= n && s % n === 0) return `${s / n}${unit}`;
  }
  return `${s}s`;
}
