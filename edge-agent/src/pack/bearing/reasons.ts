import type { Reason } from '../../domain/model.js';

/** "3.1x", "12x", "0.8x": two significant figures are what a technician reads. */
export function formatRatio(ratio: number): string {
  if (!Number.isFinite(ratio)) return String(ratio);
  return `${ratio >= 10 ? Math.round(ratio) : ratio.toFixed(1)}x`;
}

export interface ReasonInput {
  feature: string;
  /** Technician wording with channel, e.g. "vertical kurtosis". */
  label: string;
  unit: string;
  value: number;
  /** Healthy baseline value (median, linear units). */
  baseline: number;
  contribution: number;
}

/** e.g. "kurtosis 3.1x baseline", "envelope energy at BPFO 5.0x baseline". */
export function reasonText(label: string, value: number, baseline: number): string {
  return `${label} ${formatRatio(value / baseline)} baseline`;
}

export function toReason(r: ReasonInput): Reason {
  return {
    feature: r.feature,
    value: r.value,
    unit: r.unit,
    contribution: r.contribution,
    baseline: r.baseline,
    text: reasonText(r.label, r.value, r.baseline),
  };
}

/** One line naming everything that moved, largest first: what a work order would carry. */
export function summarize(reasons: readonly Reason[]): string {
  return reasons
    .filter((r) => r.contribution > 0)
    .map((r) => r.text)
    .join(', ');
}
