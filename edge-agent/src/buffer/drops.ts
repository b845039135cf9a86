/** Drop accounting by reason and class, kept in typed arrays indexed by class code. */
import { RECORD_CLASS_CODE, RECORD_CLASSES } from './record-class.js';
import type { ClassCounts, CorruptionEvent, DropReport } from './types.js';

export type DropReason = 'ttl' | 'evicted' | 'rejected';

class Tally {
  readonly records = new Float64Array(8);
  readonly bytes = new Float64Array(8);

  toCounts(): ClassCounts {
    const out = {} as ClassCounts;
    for (const name of RECORD_CLASSES) {
      const code = RECORD_CLASS_CODE[name];
      out[name] = { records: this.records[code]!, bytes: this.bytes[code]! };
    }
    return out;
  }
}

export class DropCounter {
  private ttl = new Tally();
  private evicted = new Tally();
  private rejected = new Tally();
  private corruptBytes = 0;
  private corruptions: CorruptionEvent[] = [];

  add(reason: DropReason, code: number, bytes: number, records = 1): void {
    const t = this[reason];
    t.records[code]! += records;
    t.bytes[code]! += bytes;
  }

  corruption(ev: CorruptionEvent): void {
    this.corruptBytes += ev.quarantinedBytes;
    this.corruptions.push(ev);
  }

  report(): DropReport {
    return {
      ttl: this.ttl.toCounts(),
      evicted: this.evicted.toCounts(),
      rejected: this.rejected.toCounts(),
      corruptBytes: this.corruptBytes,
      corruptions: [...this.corruptions],
    };
  }
}
