import { z } from 'zod';
import { ModelLoadError } from '../../domain/errors.js';
import type { AlarmConfig } from './alarm.js';
import type { RobustBaseline } from './baseline.js';
import type { IndicatorConfig } from './indicators.js';

export const ARTIFACT_FORMAT = 'millwright.bearing_health/v1';

/**
 * The `bearing_health` model artifact (JSON). It carries no per-machine baseline: each machine
 * learns its own during commissioning. `prior` is a fleet baseline used only to score while a machine
 * commissions (decision stays 'unknown') and to make the self-test vectors deterministic.
 */
export interface BearingHealthArtifact {
  format: typeof ARTIFACT_FORMAT;
  /** Vibration channels of one machine, in input order; inputs are `<channel>.<indicator>`. */
  channels: string[];
  /** Nominal shaft speed; the indicator stage may pass a measured one per window. */
  shaftHz: number;
  indicators: IndicatorConfig;
  commissioning: {
    /** Windows within this long of the first one form the baseline. */
    durationS: number;
    /** Commissioning continues past `durationS` until this many windows were seen. */
    minWindows: number;
    /** Buffer capacity; commissioning ends early when full. */
    maxWindows: number;
  };
  scoring: {
    /** Floor of the robust log-scale (0.2 = deviations under ~20 % never count as large). */
    minLogScale: number;
    /** Score = RMS of the `topM` largest positive robust z-scores. */
    topM: number;
    /** A window is hot when its score reaches this. */
    threshold: number;
    /**
     * Defect-line indicators (envelope energy at BPFO/BPFI/BSF/FTF) with at least this robust z are
     * listed before generic ones: they say what to inspect, RMS or a band only say how bad.
     */
    defectFirstMinZ: number;
    /**
     * Indicator names (without channel, e.g. `band_8000_12800`) whose deviations make the score;
     * every indicator still ranks the reasons. Absent: all indicators score.
     */
    alarmIndicators?: string[];
    /**
     * Score each alarm indicator on the mean over channels of its log (the accelerometers must
     * agree). @default false
     */
    fuseChannels?: boolean;
  };
  alarm: AlarmConfig;
  prior: RobustBaseline;
  /** Live streams: one window of `length` samples every `everyS` (FEMTO snapshots: 2560 every 10 s). */
  window?: { length: number; everyS: number };
}

const pair = z.tuple([z.number(), z.number()]);
const schema = z.object({
  format: z.literal(ARTIFACT_FORMAT),
  channels: z.array(z.string().min(1)).min(1),
  shaftHz: z.number().positive(),
  indicators: z.object({
    sampleRateHz: z.number().positive(),
    fftSize: z
      .number()
      .int()
      .refine((n) => n >= 64 && (n & (n - 1)) === 0, 'power of two >= 64'),
    bandsHz: z.array(pair),
    envelopeBandHz: pair,
    envelopeBackgroundHz: pair,
    harmonics: z.number().int().min(1),
    defectTolerance: z.number().positive(),
    geometry: z.object({
      balls: z.number().int().positive(),
      ballDiameter: z.number().positive(),
      pitchDiameter: z.number().positive(),
      contactAngleDeg: z.number(),
    }),
  }),
  commissioning: z.object({
    durationS: z.number().positive(),
    minWindows: z.number().int().min(3),
    maxWindows: z.number().int().positive(),
  }),
  scoring: z.object({
    minLogScale: z.number().positive(),
    topM: z.number().int().positive(),
    threshold: z.number(),
    defectFirstMinZ: z.number().min(0),
    alarmIndicators: z.array(z.string().min(1)).min(1).optional(),
    fuseChannels: z.boolean().optional(),
  }),
  alarm: z
    .object({ k: z.number().int().positive(), n: z.number().int().positive(), holdOffS: z.number().min(0) })
    .refine((a) => a.k <= a.n, 'k must not exceed n'),
  prior: z.object({ median: z.array(z.number()), scale: z.array(z.number().positive()) }),
  window: z.object({ length: z.number().int().min(64), everyS: z.number().positive() }).optional(),
});

/** Parses and validates artifact bytes. @throws ModelLoadError naming every bad field. */
export function parseArtifact(bytes: Uint8Array): BearingHealthArtifact {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new ModelLoadError('bearing_health artifact is not JSON', {}, { cause: err });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ModelLoadError('invalid bearing_health artifact', { issues });
  }
  return parsed.data as BearingHealthArtifact;
}

/**
 * The artifact for a replay that runs `factor` times faster than the machine did (an f32 replay at
 * `pace: factor` with `timestamps: 'replay'`): its time constants (commissioning span, window period,
 * alarm hold-off) in replay time, so the model still commissions on the machine's first minutes of
 * operation and takes one window per recorded snapshot. Counts (windows, k of n) stay as they are.
 * @throws RangeError when `factor` is not a positive finite number.
 */
export function compressTime(a: BearingHealthArtifact, factor: number): BearingHealthArtifact {
  if (!(factor > 0 && Number.isFinite(factor))) throw new RangeError(`time compression must be > 0, got ${factor}`);
  return {
    ...a,
    commissioning: { ...a.commissioning, durationS: a.commissioning.durationS / factor },
    alarm: { ...a.alarm, holdOffS: a.alarm.holdOffS / factor },
    ...(a.window ? { window: { ...a.window, everyS: a.window.everyS / factor } } : {}),
  };
}

export function serializeArtifact(a: BearingHealthArtifact): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(a, null, 2)}\n`);
}
