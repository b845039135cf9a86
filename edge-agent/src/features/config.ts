/** Windowed feature configuration per channel; the config layer embeds these schemas. */
import { z } from 'zod';

export const BandSchema = z
  .object({ lowHz: z.number().nonnegative(), highHz: z.number().positive() })
  .refine((b) => b.lowHz < b.highHz, { message: 'lowHz must be below highHz' });

/** Quality flags whose points are left out of the features. NAN_OR_INF is always left out. */
export const ExcludedFlagSchema = z.enum(['NAN_OR_INF', 'OUT_OF_RANGE', 'SPIKE', 'STUCK', 'DRIFTING']);

export const ChannelFeatureConfigSchema = z.object({
  /**
   * Points per window (good and bad). Vibration: e.g. 2048 (80 ms at 25.6 kHz) or 2560 (zero-padded
   * to a 4096-point FFT). Process: e.g. 60 at 1 Hz. @default 2048
   */
  windowSize: z
    .number()
    .int()
    .min(4)
    .max(1 << 20)
    .default(2048),
  /** Vibration only: band energies, named `<channel>.band_<lowHz>_<highHz>`. @default [] */
  bands: z.array(BandSchema).default([]),
  /** @default ['NAN_OR_INF', 'OUT_OF_RANGE', 'SPIKE'] */
  exclude: z.array(ExcludedFlagSchema).default(['NAN_OR_INF', 'OUT_OF_RANGE', 'SPIKE']),
});

export type BandConfig = z.infer<typeof BandSchema>;
export type ExcludedFlag = z.infer<typeof ExcludedFlagSchema>;
export type ChannelFeatureConfig = z.infer<typeof ChannelFeatureConfigSchema>;
