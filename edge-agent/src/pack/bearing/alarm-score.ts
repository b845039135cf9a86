import { type RobustBaseline, safeLog } from './baseline.js';
import { medianInPlace } from './select.js';

/** MAD to standard deviation for Gaussian data. */
const MAD_TO_SIGMA = 1.4826;

/**
 * The indicators that drive the alarm, as opposed to those that only explain it. Each alarm
 * indicator is one indicator name (e.g. `band_8000_12800`) taken on every channel; with
 * `fuseChannels` its value is the mean over channels of the log indicator (the geometric mean),
 * so the alarm needs the accelerometers to agree and a single noisy sensor moves it half as much.
 */
export interface AlarmSelection {
  /** Input index of each alarm indicator on each channel: `[alarm][channel]`. */
  members: number[][];
  fuse: boolean;
}

/**
 * Builds the selection for inputs laid out channel by channel (`channels x specNames`, the
 * manifest order). `indicators` absent: every input alarms on its own (the original scoring).
 * Names that are not indicators of the artifact are ignored.
 */
export function selectAlarmInputs(
  channels: number,
  specNames: readonly string[],
  indicators: readonly string[] | undefined,
  fuse: boolean,
): AlarmSelection {
  const per = specNames.length;
  const names = indicators ?? specNames;
  const byName = names
    .map((name) => specNames.indexOf(name))
    .filter((s) => s >= 0)
    .map((s) => Array.from({ length: channels }, (_, c) => c * per + s));
  if (fuse) return { members: byName, fuse };
  // Unfused: every channel's indicator is its own alarm indicator.
  return { members: byName.flat().map((i) => [i]), fuse };
}

/** Number of alarm indicators. */
export function alarmWidth(s: AlarmSelection): number {
  return s.members.length;
}

/** Writes the alarm indicators (log domain) of one window of raw inputs into `out`. */
export function alarmValues(s: AlarmSelection, inputs: ArrayLike<number>, out: Float64Array): void {
  for (let a = 0; a < s.members.length; a++) {
    const m = s.members[a]!;
    let sum = 0;
    for (const i of m) sum += safeLog(inputs[i]!);
    out[a] = sum / m.length;
  }
}

/**
 * Median and floored MAD scale of each alarm indicator over commissioning rows (already in the
 * log domain, as `CommissioningBuffer.rows()` returns them).
 */
export function fitAlarmBaseline(s: AlarmSelection, logRows: readonly (readonly number[])[], minScale: number) {
  const col = new Float64Array(logRows.length);
  const median: number[] = [];
  const scale: number[] = [];
  for (const m of s.members) {
    logRows.forEach((row, r) => {
      let sum = 0;
      for (const i of m) sum += row[i]!;
      col[r] = sum / m.length;
    });
    const med = medianInPlace(col, 0, logRows.length);
    for (let r = 0; r < logRows.length; r++) {
      let sum = 0;
      for (const i of m) sum += logRows[r]![i]!;
      col[r] = Math.abs(sum / m.length - med);
    }
    median.push(med);
    scale.push(Math.max(minScale, MAD_TO_SIGMA * medianInPlace(col, 0, logRows.length)));
  }
  return { median, scale };
}

/**
 * Alarm baseline from per-input statistics, for a state saved before alarm statistics existed or
 * for the fleet prior: the mean of the members' medians and scales (an upper bound on the fused
 * scale, so it errs towards fewer alarms).
 */
export function alarmBaselineFrom(s: AlarmSelection, b: RobustBaseline): RobustBaseline {
  const mean = (xs: number[], m: number[]) => m.reduce((acc, i) => acc + xs[i]!, 0) / m.length;
  return { median: s.members.map((m) => mean(b.median, m)), scale: s.members.map((m) => mean(b.scale, m)) };
}
