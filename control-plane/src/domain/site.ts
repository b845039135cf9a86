/** Sites (plants), their lines and maintenance windows. */

import { cronProblem } from './cron.js';
import { InvalidArgumentError } from './errors.js';
import { isValidId } from './ids.js';

export interface Line {
  id: string;
  displayName: string;
}

export interface MaintenanceWindow {
  /** 5-field cron expression for the window's start, in the site's time zone. */
  cron: string;
  durationS: number;
}

export interface Site {
  id: string;
  displayName: string;
  /** IANA time zone name. */
  timeZone: string;
  lines: Line[];
  maintenanceWindows: MaintenanceWindow[];
  createdAtMs: number;
}

export type SiteInput = Omit<Site, 'createdAtMs'>;

export const MAX_WINDOW_S = 7 * 24 * 3600;
const MAX_LINES = 256;
const MAX_WINDOWS = 32;
const MAX_NAME = 200;

/** True for IANA zone names the runtime knows (`Europe/Berlin`, `UTC`); offsets like `+01:00` are refused. */
export function isIanaTimeZone(tz: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(tz)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Checks a site from a request and fills defaults; throws InvalidArgumentError naming the field. */
export function validateSite(s: SiteInput, field = 'site'): SiteInput {
  if (!s.id) throw new InvalidArgumentError(`${field}.id`, 'required');
  if (!isValidId(s.id)) throw new InvalidArgumentError(`${field}.id`, 'letters, digits, _ and - only (max 63)');
  if (s.displayName.length > MAX_NAME)
    throw new InvalidArgumentError(`${field}.display_name`, `at most ${MAX_NAME} characters`);
  const timeZone = s.timeZone || 'UTC';
  if (!isIanaTimeZone(timeZone))
    throw new InvalidArgumentError(`${field}.time_zone`, `${JSON.stringify(timeZone)} is not an IANA time zone`);
  validateLines(s.lines, `${field}.lines`);
  validateWindows(s.maintenanceWindows, `${field}.maintenance_windows`);
  return { ...s, timeZone };
}

function validateLines(lines: Line[], field: string): void {
  if (lines.length > MAX_LINES) throw new InvalidArgumentError(field, `at most ${MAX_LINES} lines`);
  const seen = new Set<string>();
  for (const [i, line] of lines.entries()) {
    if (!isValidId(line.id))
      throw new InvalidArgumentError(`${field}[${i}].id`, 'letters, digits, _ and - only (max 63)');
    if (seen.has(line.id)) throw new InvalidArgumentError(`${field}[${i}].id`, `duplicate line ${line.id}`);
    if (line.displayName.length > MAX_NAME) throw new InvalidArgumentError(`${field}[${i}].display_name`, 'too long');
    seen.add(line.id);
  }
}

function validateWindows(windows: MaintenanceWindow[], field: string): void {
  if (windows.length > MAX_WINDOWS) throw new InvalidArgumentError(field, `at most ${MAX_WINDOWS} windows`);
  for (const [i, w] of windows.entries()) {
    const problem = cronProblem(w.cron);
    if (problem) throw new InvalidArgumentError(`${field}[${i}].cron`, problem);
    if (!Number.isInteger(w.durationS) || w.durationS < 60 || w.durationS > MAX_WINDOW_S) {
      throw new InvalidArgumentError(`${field}[${i}].duration_s`, `between 60 and ${MAX_WINDOW_S} seconds`);
    }
  }
}
