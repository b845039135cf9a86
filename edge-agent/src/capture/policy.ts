/** The capture policy: which scored windows are kept for training, with how much context, within what limits. */
import { z } from 'zod';

/** Agent config `capture.*`: used until (and unless) the desired state carries a CapturePolicy. */
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

/**
 * The desired state's policy wins over the config; its zero limits mean "not set" (proto3 has no
 * presence), so the config's limits apply then: a policy can never lift the agent's own caps to infinity.
 */
export function effectivePolicy(config: CapturePolicy, desired: CapturePolicy | undefined): CapturePolicy {
  if (!desired) return config;
  return {
    ...desired,
    randomRate: Math.min(1, Math.max(0, desired.randomRate)),
    maxSamplesPerHour: desired.maxSamplesPerHour || config.maxSamplesPerHour,
    maxBytesPerHour: desired.maxBytesPerHour || config.maxBytesPerHour,
  };
}
