import { type DataType, type RegisterKind, wordsOf } from './decode.js';

/** What the planner needs of a channel. */
export interface PlannedChannel {
  register: RegisterKind;
  address: number;
  dataType: DataType;
}

/** One Modbus read request and where each channel's value sits in its response. */
export interface ReadRange {
  register: RegisterKind;
  start: number;
  count: number;
  /** Channel index (into the configured list) and offset of its first word/bit in the response. */
  items: Array<{ channel: number; offset: number }>;
}

/** Protocol limits per request (Modbus application protocol v1.1b3). */
export const MAX_REGISTERS_PER_READ = 125;
export const MAX_BITS_PER_READ = 2000;

/**
 * Groups channels into as few reads as possible: same register kind, addresses sorted, merged
 * while the hole between them is at most `maxGap` and the request stays within protocol limits.
 */
export function planReads(channels: readonly PlannedChannel[], maxGap: number): ReadRange[] {
  const order = channels
    .map((c, i) => ({ c, i }))
    .sort((a, b) => kindRank(a.c) - kindRank(b.c) || a.c.address - b.c.address);
  const ranges: ReadRange[] = [];
  let cur: ReadRange | undefined;
  for (const { c, i } of order) {
    const width = isBit(c.register) ? 1 : wordsOf(c.dataType);
    const limit = isBit(c.register) ? MAX_BITS_PER_READ : MAX_REGISTERS_PER_READ;
    const end = c.address + width;
    const fits =
      cur && cur.register === c.register && c.address <= cur.start + cur.count + maxGap && end - cur.start <= limit;
    if (!cur || !fits) {
      cur = { register: c.register, start: c.address, count: 0, items: [] };
      ranges.push(cur);
    }
    cur.count = Math.max(cur.count, end - cur.start);
    cur.items.push({ channel: i, offset: c.address - cur.start });
  }
  return ranges;
}

function isBit(kind: RegisterKind): boolean {
  return kind === 'coil' || kind === 'discrete';
}

function kindRank(c: PlannedChannel): number {
  return ['holding', 'input', 'coil', 'discrete'].indexOf(c.register);
}
