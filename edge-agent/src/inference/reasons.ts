import type { Decision, ModelManifest, Reason } from '../domain/model.js';

/** True when every value is finite (no NaN, no ±Infinity). */
export function allFinite(values: ArrayLike<number>): boolean {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) return false;
  }
  return true;
}

/** 'unknown' for any non-finite input or score, otherwise score >= threshold => 'alert'. */
export function decide(score: number, inputsFinite: boolean, alertThreshold: number): Decision {
  if (!inputsFinite || !Number.isFinite(score)) return 'unknown';
  return score >= alertThreshold ? 'alert' : 'normal';
}

/**
 * Turns per-feature contributions into the top-K reasons, largest |contribution| first.
 * Features contributing exactly 0 are left out: they did not move the score.
 * Holds its scratch index so selection allocates only the returned reasons.
 */
export class ReasonBuilder {
  private readonly order: Int32Array;

  constructor(
    private readonly manifest: ModelManifest,
    /** Healthy baseline per input (NaN where unknown), shown beside the value. */
    private readonly baselines: Float64Array,
  ) {
    this.order = new Int32Array(manifest.inputs.length);
  }

  build(inputs: Float64Array, contributions: Float64Array, topK: number): Reason[] {
    const count = this.selectTop(contributions, Math.min(topK, this.order.length));
    const reasons: Reason[] = new Array(count);
    for (let r = 0; r < count; r++) reasons[r] = this.reason(this.order[r]!, inputs, contributions);
    return reasons;
  }

  /** Insertion into a sorted prefix of `order`: O(n·k), fine for k of a few. */
  private selectTop(contributions: Float64Array, k: number): number {
    const order = this.order;
    let count = 0;
    for (let i = 0; i < contributions.length && k > 0; i++) {
      const mag = Math.abs(contributions[i]!);
      if (!(mag > 0)) continue;
      if (count === k && mag <= Math.abs(contributions[order[k - 1]!]!)) continue;
      let j = count < k ? count++ : k - 1;
      while (j > 0 && Math.abs(contributions[order[j - 1]!]!) < mag) {
        order[j] = order[j - 1]!;
        j--;
      }
      order[j] = i;
    }
    return count;
  }

  private reason(i: number, inputs: Float64Array, contributions: Float64Array): Reason {
    const spec = this.manifest.inputs[i]!;
    const value = inputs[i]!;
    const baseline = this.baselines[i]!;
    return {
      feature: spec.name,
      value,
      unit: spec.unit,
      contribution: contributions[i]!,
      baseline,
      text: reasonText(spec.name, value, spec.unit, baseline),
    };
  }
}

/**
 * Technician-readable text: "vib.kurtosis 3.1x baseline" when value and baseline share a sign,
 * otherwise the value beside its baseline, or the bare value when no baseline is known.
 */
export function reasonText(name: string, value: number, unit: string, baseline: number): string {
  const withUnit = unit ? `${fmt(value)} ${unit}` : fmt(value);
  if (!Number.isFinite(baseline) || !Number.isFinite(value)) return `${name} ${withUnit}`;
  const ratio = value / baseline;
  if (baseline !== 0 && ratio > 0) return `${name} ${ratio.toFixed(ratio < 10 ? 1 : 0)}x baseline`;
  return `${name} ${withUnit} (baseline ${fmt(baseline)})`;
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(3)));
}
