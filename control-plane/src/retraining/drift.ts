/**
 * Drift statistics over binned data. Observed counts come from agents as [below, bin 0..n-1,
 * at-or-above] over the training reference's n+1 edges; the reference has n bin fractions and none
 * outside its edges.
 */

/** Fractions below zero are impossible; empty slots get this floor so PSI stays finite. */
export const PSI_FLOOR = 1e-4;

/** The reference fractions in the observed layout: [0, f_0..f_{n-1}, 0]. */
export function referenceSlots(binFractions: readonly number[]): number[] {
  const total = binFractions.reduce((s, f) => s + f, 0) || 1;
  return [0, ...binFractions.map((f) => f / total), 0];
}

function normalise(counts: readonly number[]): number[] {
  const total = counts.reduce((s, c) => s + c, 0);
  return total > 0 ? counts.map((c) => c / total) : counts.map(() => 0);
}

/**
 * Population stability index Σ (a − e)·ln(a / e) with both fractions floored at PSI_FLOOR.
 * Rules of thumb: < 0.1 stable, 0.1–0.25 moderate shift, > 0.25 major shift.
 */
export function psi(reference: readonly number[], observedCounts: readonly number[]): number {
  if (reference.length !== observedCounts.length) throw new Error('psi: reference and counts differ in length');
  const a = normalise(observedCounts);
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.max(reference[i]!, PSI_FLOOR);
    const o = Math.max(a[i]!, PSI_FLOOR);
    s += (o - e) * Math.log(o / e);
  }
  return s;
}

/** Kolmogorov–Smirnov statistic on the binned CDFs: max over bin boundaries of |F_obs − F_ref|. */
export function ks(reference: readonly number[], observedCounts: readonly number[]): number {
  if (reference.length !== observedCounts.length) throw new Error('ks: reference and counts differ in length');
  const a = normalise(observedCounts);
  let fr = 0;
  let fo = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    fr += reference[i]!;
    fo += a[i]!;
    max = Math.max(max, Math.abs(fo - fr));
  }
  return max;
}
