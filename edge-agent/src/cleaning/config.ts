/**
 * Cleaning configuration, per channel and per asset. The config layer embeds these schemas; they
 * fill defaults so `{}` is a valid channel config (NaN/Inf check, Hampel, stuck and gap detection
 * on; no range limits; no drift detection).
 */
import { z } from 'zod';

/** Hard physical or instrument limits; a missing bound is not checked. */
export const RangeConfigSchema = z
  .object({ min: z.number().optional(), max: z.number().optional() })
  .refine((r) => r.min === undefined || r.max === undefined || r.min < r.max, { message: 'min must be below max' });

/** Hampel spike filter over a centered window of `2 * halfWidth + 1` samples. */
export const HampelConfigSchema = z.object({
  /**
   * Output lags input by this many samples (the filter needs them as look-ahead). Small windows
   * estimate the MAD poorly: on Gaussian noise h=3, k=3.5 flags 3% of points; h=8, k=6 flags 0.05%.
   * @default 8
   */
  halfWidth: z.number().int().min(1).max(64).default(8),
  /** Spike when |x - median| > k * 1.4826 * MAD. @default 6 */
  k: z.number().positive().default(6),
  /** Floor on the robust sigma, in channel units, so quantized flat signals do not flag every step of one LSB. @default 0 */
  minSigma: z.number().nonnegative().default(0),
});

/** A run of `minRun` or more consecutive values within `epsilon` of the run's first value. */
export const StuckConfigSchema = z.object({
  /** @default 64 */
  minRun: z.number().int().min(2).default(64),
  /** @default 0 (bit-identical values) */
  epsilon: z.number().nonnegative().default(0),
});

/** Gap: a block starting later than expected from the previous block's end. */
export const GapConfigSchema = z.object({
  /** Missing time, in samples at the nominal rate, that counts as a gap. @default 1 */
  minMissingSamples: z.number().positive().default(1),
});

/** Per-channel part of calibration drift detection (see drift.ts for the method). */
export const ChannelDriftConfigSchema = z.object({
  /** Channels of the same asset that respond to the same machine state; 3 or more tolerate one drifting sibling. */
  siblings: z.array(z.string().min(1)).min(1),
  /** A sibling is used as a reference only if its interval levels correlate at least this much. @default 0.6 */
  minCorrelation: z.number().min(0).max(1).default(0.6),
  /** CUSUM slack in residual sigmas. @default 1 */
  slack: z.number().nonnegative().default(1),
  /** Offset the sensor may have by its datasheet, in channel units; the slack never goes below it. @default 0 */
  tolerance: z.number().nonnegative().default(0),
  /** CUSUM decision threshold in residual sigmas; driftScore = cusum / threshold. @default 10 */
  threshold: z.number().positive().default(10),
});

export const ChannelCleaningConfigSchema = z.object({
  range: RangeConfigSchema.prefault({}),
  /** `null` disables spike detection (and its output delay). */
  hampel: HampelConfigSchema.nullable().prefault({}),
  /** `null` disables stuck detection. */
  stuck: StuckConfigSchema.nullable().prefault({}),
  gap: GapConfigSchema.prefault({}),
  /** Absent: the channel is not checked for drift. */
  drift: ChannelDriftConfigSchema.optional(),
});

/** Asset-level parameters of drift detection. */
export const AssetDriftConfigSchema = z.object({
  /** Length of the intervals whose mean levels feed the detector, in data time. @default 60000 */
  intervalMs: z.number().positive().default(60_000),
  /** Intervals in the reference (learning) window; it should span the machine's operating range. @default 240 */
  learnIntervals: z.number().int().min(8).default(240),
  /** A residual above this many sigmas on many channels at once means the reference no longer fits. @default 5 */
  machineChangeZ: z.number().positive().default(5),
  /**
   * Fraction of armed, non-drifting channels that must exceed `machineChangeZ` together to call it
   * a machine change (at least 2 channels). Keep it high: one drifting sensor plus one unlucky
   * sibling must not wipe the reference. @default 0.75
   */
  machineChangeFraction: z.number().gt(0).max(1).default(0.75),
  /** The learned relation is trusted this far (fraction of the learned range) beyond the sibling levels seen. @default 0.25 */
  envelopeMargin: z.number().nonnegative().default(0.25),
});

export type RangeConfig = z.infer<typeof RangeConfigSchema>;
export type HampelConfig = z.infer<typeof HampelConfigSchema>;
export type StuckConfig = z.infer<typeof StuckConfigSchema>;
export type GapConfig = z.infer<typeof GapConfigSchema>;
export type ChannelDriftConfig = z.infer<typeof ChannelDriftConfigSchema>;
export type ChannelCleaningConfig = z.infer<typeof ChannelCleaningConfigSchema>;
export type AssetDriftConfig = z.infer<typeof AssetDriftConfigSchema>;
