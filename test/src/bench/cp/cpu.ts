import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU seconds used by process trees, from /proc: on a shared, loaded box wall-clock figures swing
 * with other people's work, CPU seconds per record do not (much). Linux only; elsewhere all zero.
 */
export class CpuMeter {
  private readonly tick = 100;

  constructor(private readonly roots: Readonly<Record<string, number | undefined>>) {}

  /** CPU seconds so far per named tree (the process, its live descendants, and reaped children). */
  sample(): Record<string, number> {
    const procs = this.table();
    const out: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.roots)) {
      out[name] = pid === undefined ? 0 : this.tree(procs, pid) / this.tick;
    }
    return out;
  }

  /** `name cpu-s (per unit)` for the difference between two samples. */
  static describe(before: Record<string, number>, after: Record<string, number>, units: number, unit: string): string {
    const parts = Object.keys(after).map((k) => {
      const s = (after[k] ?? 0) - (before[k] ?? 0);
      return `${k} ${s.toFixed(1)} s (${((s * 1e6) / Math.max(1, units)).toFixed(1)} µs/${unit})`;
    });
    return parts.join(', ');
  }

  private table(): Map<number, { ppid: number; own: number; reaped: number }> {
    const procs = new Map<number, { ppid: number; own: number; reaped: number }>();
    let entries: string[] = [];
    try {
      entries = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
    } catch {
      return procs;
    }
    for (const d of entries) {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        // Fields after the parenthesised command name (which may contain spaces).
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        procs.set(Number(d), {
          ppid: Number(f[1]),
          own: Number(f[11]) + Number(f[12]),
          reaped: Number(f[13]) + Number(f[14]),
        });
      } catch {
        // The process exited while we looked.
      }
    }
    return procs;
  }

  private tree(procs: Map<number, { ppid: number; own: number; reaped: number }>, root: number): number {
    const r = procs.get(root);
    if (!r) return 0;
    let total = r.own + r.reaped;
    for (const [pid, p] of procs) if (p.ppid === root && pid !== root) total += this.tree(procs, pid);
    return total;
  }
}
