import { z } from 'zod';

/** Channel suffixes every simulated asset has: `<asset>.<suffix>`. */
export const SIM_CHANNELS = ['vib_h', 'vib_v', 'temp_de', 'temp_nde', 'current'] as const;
export type SimChannel = (typeof SIM_CHANNELS)[number];
const SimChannelSchema = z.enum(SIM_CHANNELS);

/**
 * A rolling-element bearing defect that grows over plant time ("degradation hours", see
 * `timeCompression`): impacts at `defectOrder` x shaft speed ring a structural resonance and are
 * amplitude-modulated at shaft speed, so kurtosis and envelope energy rise as it develops.
 */
export const BearingFaultSchema = z.object({
  /** @default 2 — degradation hours before the first impacts. */
  onsetH: z.number().min(0).default(2),
  /** @default 6 — degradation hours from onset to the fully developed defect. */
  progressionH: z.number().positive().default(6),
  /** Impact rate in shaft orders. @default 3.5848 (BPFO of an SKF 6205, as in the CWRU data) */
  defectOrder: z.number().positive().default(3.5848),
  /** @default 3200 */
  resonanceHz: z.number().positive().default(3200),
  /** @default 400 */
  resonanceBandwidthHz: z.number().positive().default(400),
  /** Peak ringing amplitude in g when fully developed. @default 3 */
  maxImpactG: z.number().positive().default(3),
  /** Depth of the amplitude modulation at shaft speed, 0..1. @default 0.5 */
  amDepth: z.number().min(0).max(1).default(0.5),
  /** Random jitter of the impact spacing in percent (rolling elements slip). @default 1 */
  slipPct: z.number().min(0).max(20).default(1),
  /** Bearing housing temperature rise at full development, degC. @default 12 */
  temperatureRiseC: z.number().min(0).default(12),
});

const EpisodesSchema = z.object({
  ratePerHour: z.number().min(0),
  meanDurationS: z.number().positive(),
  channels: z.array(SimChannelSchema),
});

/** Per-asset scenario. Every fault kind can be disabled with `null` (or a rate of 0). */
export const SimAssetSchema = z.object({
  name: z.string().min(1),
  /** @default 29.95 (1797 rpm) */
  shaftHz: z.number().positive().default(29.95),
  /** @default 25600 */
  vibrationRateHz: z.number().positive().default(25_600),
  /** Broadband vibration noise (1 sigma), g. @default 0.05 */
  vibrationNoiseG: z.number().min(0).default(0.05),
  /** 1x (unbalance) amplitude, g. @default 0.12 */
  unbalanceG: z.number().min(0).default(0.12),
  /** @default 1 */
  temperatureRateHz: z.number().positive().default(1),
  /** @default 10 */
  currentRateHz: z.number().positive().default(10),
  /** @default 25 */
  ambientC: z.number().default(25),
  /** Motor rated current, A. @default 15 */
  ratedCurrentA: z.number().positive().default(15),
  bearingFault: BearingFaultSchema.nullable().prefault({}),
  /** Electrical glitches: one sample far outside the normal range, then back. */
  spikes: z
    .object({
      ratePerHour: z.number().min(0).default(6),
      channels: z.array(SimChannelSchema).default(['vib_h', 'vib_v', 'current']),
      /** @default 45 */
      vibrationG: z.number().positive().default(45),
      /** @default 180 */
      currentA: z.number().positive().default(180),
      /** Used for temperature channels. @default 250 */
      temperatureC: z.number().positive().default(250),
    })
    .nullable()
    .prefault({}),
  /** Calibration drift: an additive offset on one channel that grows with degradation time. */
  drift: z
    .object({
      channel: SimChannelSchema.default('temp_nde'),
      /** @default 1 */
      startH: z.number().min(0).default(1),
      /** Offset growth in channel units per degradation hour. @default 1.5 */
      ratePerHour: z.number().default(1.5),
    })
    .nullable()
    .default(null),
  /** Missing blocks. @default 2/h of 1.5 s on every channel */
  dropouts: EpisodesSchema.nullable().default({ ratePerHour: 2, meanDurationS: 1.5, channels: [...SIM_CHANNELS] }),
  /** Channel repeating its last value. @default 1/h of 30 s on process channels */
  stuck: EpisodesSchema.nullable().default({
    ratePerHour: 1,
    meanDurationS: 30,
    channels: ['temp_de', 'temp_nde', 'current'],
  }),
  /** Isolated NaN samples. @default 4/h on process channels */
  nans: z
    .object({ ratePerHour: z.number().min(0), channels: z.array(SimChannelSchema) })
    .nullable()
    .default({ ratePerHour: 4, channels: ['temp_de', 'temp_nde', 'current'] }),
});

/** Scenario of the plant simulator source. */
export const SimulatorConfigSchema = z.object({
  /** @default 'sim' */
  id: z.string().min(1).default('sim'),
  /** Same seed and scenario => the same samples, bit for bit. @default 1 */
  seed: z.number().int().default(1),
  /** Samples are generated in frames of this length; blocks are frames. @default 100 */
  frameMs: z.number().int().positive().default(100),
  /** How often the clock wakes the simulator; each wake emits every frame that is complete. @default 100 */
  tickMs: z.number().int().positive().default(100),
  /** Degradation hours per real hour: 3600 turns a fault that develops over hours into seconds. @default 1 */
  timeCompression: z.number().positive().default(1),
  /** Simulation start; defaults to the clock's time at start(). */
  startTimeMs: z.number().optional(),
  /** When behind the clock by more than this, frames are skipped (counted) rather than burst. @default 10000 */
  maxLagMs: z.number().positive().default(10_000),
  assets: z
    .array(SimAssetSchema)
    .min(1)
    .prefault([{ name: 'pump1' }]),
});

export type SimulatorConfig = z.output<typeof SimulatorConfigSchema>;
export type SimulatorConfigInput = z.input<typeof SimulatorConfigSchema>;
export type SimAsset = z.output<typeof SimAssetSchema>;
export type BearingFault = z.output<typeof BearingFaultSchema>;
