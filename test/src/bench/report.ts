/** One benchmark figure, printed as one JSON line on stdout. */
export interface Figure {
  metric: string;
  value: number;
  unit: string;
  /** Name of the raw limit measured in the same run, when the figure is compared with one. */
  baseline?: string;
  baseline_value?: number;
}

export interface BenchContext {
  /** Arguments after the suite names (e.g. `--data DIR`). */
  args: string[];
  emit(figure: Figure): void;
  /** Human-readable progress and tables: stderr. */
  log(message: string): void;
}

export function makeContext(suite: string, args: string[]): BenchContext {
  return {
    args,
    emit(f) {
      const line: Record<string, unknown> = { suite, metric: f.metric, value: round(f.value), unit: f.unit };
      if (f.baseline !== undefined && f.baseline_value !== undefined) {
        line.baseline = f.baseline;
        line.baseline_value = round(f.baseline_value);
        line.ratio = f.baseline_value === 0 ? null : round(f.value / f.baseline_value);
      }
      process.stdout.write(`${JSON.stringify(line)}\n`);
    },
    log(message) {
      process.stderr.write(`[${suite}] ${message}\n`);
    },
  };
}

function round(x: number): number {
  return Number.isFinite(x) ? Number(x.toPrecision(6)) : x;
}

/** Percentile of an unsorted sample (copies and sorts). */
export function percentile(values: ArrayLike<number>, p: number): number {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return Number.NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}
