/**
 * In-place quickselect: after the call, `a[k]` holds the value that would be at index `k` if
 * `a[lo..hi)` were sorted. No allocation; reorders the range.
 */
export function selectInPlace(a: Float64Array, lo: number, hi: number, k: number): number {
  let l = lo;
  let r = hi - 1;
  while (l < r) {
    const pivot = a[(l + r) >>> 1]!;
    let i = l;
    let j = r;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) r = j;
    else if (k >= i) l = i;
    else break;
  }
  return a[k]!;
}

/** Median of `a[lo..hi)`, reordering the range. NaN for an empty range. */
export function medianInPlace(a: Float64Array, lo: number, hi: number): number {
  const n = hi - lo;
  if (n <= 0) return Number.NaN;
  const mid = lo + (n >>> 1);
  const upper = selectInPlace(a, lo, hi, mid);
  if (n % 2 === 1) return upper;
  let lower = a[lo]!;
  for (let i = lo + 1; i < mid; i++) if (a[i]! > lower) lower = a[i]!;
  return (lower + upper) / 2;
}
