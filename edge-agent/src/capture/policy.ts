/** The capture policy: which scored windows are kept for training, with how much context, within what limits. */
import { z } from 'zod';

/**
 * Agent config `capture.*` (changed live through the config layers' `capture.*` keys). Its hourly
 * limits in the file/env config are the plant's caps: nothing remote can lift them (`effectivePolicy`).
 */
export const CaptureConfigSchema = z.object({
  /** @default false */
  enabled: z.boolean().default(false),
  /** Keep predictions whose score lies in the manifest's uncertainty band. @default true */
  uncertain: z.boolean().default(true),
  /** Keep windows the model decided are alerts. @default true */
  alerts: z.boolean().default(true),
  /** Fraction of all scored windows kept at random, 0..1. @default 0 */
  randomRate: z.number().min(0).max(1).default(0),
  /** Keep every window within this many seconds around an operator label (a ring kept in memory). @default 60 */
  aroundLabelS: z.number().int().min(0).max(3600).default(60),
  /** Attach the raw window of the asset's channels (float32). @default false */
  includeRaw: z.boolean().default(false),
  /** Attach the feature vector (always on when raw is off). @default true */
  includeFeatures: z.boolean().default(true),
  /** @default 600 */
  maxSamplesPerHour: z.number().int().min(0).default(600),
  /** @default 16 MiB */
  maxBytesPerHour: z
    .number()
    .int()
    .min(0)
    .default(16 * 1024 * 1024),
  /** Seconds of raw samples kept per channel for label context and raw capture. @default 30 */
  maxRawSeconds: z.number().min(0).max(600).default(30),
  /** Per-feature histograms over the manifest's reference bins, for drift at the control plane. @default true */
  histograms: z.boolean().default(true),
  /** Histograms are sent at least this often (and at every hour boundary). @default 300 */
  histogramFlushS: z.number().positive().max(3600).default(300),
});
export type CaptureConfig = z.output<typeof CaptureConfigSchema>;

/** The part of the policy that can come from the desired state (CapturePolicy). */
export interface CapturePolicy {
  enabled: boolean;
  uncertain: boolean;
  alerts: boolean;
  randomRate: number;
  aroundLabelS: number;
  includeRaw: boolean;
  includeFeatures: boolean;
  maxSamplesPerHour: number;
  maxBytesPerHour: number;
}

/** The policy of the agent config. */
export function policyFromConfig(c: CaptureConfig): CapturePolicy {
  return {
    enabled: c.enabled,
    uncertain: c.uncertain,
    alerts: c.alerts,
    randomRate: c.randomRate,
    aroundLabelS: c.aroundLabelS,
    includeRaw: c.includeRaw,
    includeFeatures: c.includeFeatures,
    maxSamplesPerHour: c.maxSamplesPerHour,
    maxBytesPerHour: c.maxBytesPerHour,
  };
}

/** Hourly limits; 0 is none (as in `capture.*` and proto3, which has no presence). */
export type CaptureCaps = Pick<CapturePolicy, 'maxSamplesPerHour' | 'maxBytesPerHour'>;

/**
 * The policy in effect. `config` is the agent's `capture.*` after the config layers' overlay;
 * `desired` is `DesiredState.capture`, whose rules win when present; `caps` are the limits of the
 * agent's own file/env config. Each limit is the smallest one set anywhere: the plant sets the caps
 * and nothing remote (a config layer or a desired policy) can lift them, only lower them.
 */
export function effectivePolicy(
  config: CapturePolicy,
  desired: CapturePolicy | undefined,
  caps: CaptureCaps,
): CapturePolicy {
  const rules = desired ? { ...desired, randomRate: Math.min(1, Math.max(0, desired.randomRate)) } : config;
  return {
    ...rules,
    maxSamplesPerHour: tightest(caps.maxSamplesPerHour, config.maxSamplesPerHour, desired?.maxSamplesPerHour ?? 0),
    maxBytesPerHour: tightest(caps.maxBytesPerHour, config.maxBytesPerHour, desired?.maxBytesPerHour ?? 0),
  };
}

/** The smallest limit that is set (> 0), or 0 (none) when none is. */
function tightest(...limits: number[]): number {
  const set = limits.filter((l) => l > 0);
  return set.length > 0 ? Math.min(...set) : 0;
}
