/**
 * The desired state's `config` (the control plane's merged fleet -> site -> label group -> agent
 * layers) as an overlay over the agent's file/env config. Only keys that can change without a
 * restart are accepted, each validated by the agent's own zod schema for that key.
 */
import { z } from 'zod';
import { AgentConfigSchema } from '../config.js';

// The agent's own field schemas without their defaults, so an absent key stays absent.
const alertFields = AgentConfigSchema.shape.alerts.unwrap().shape;
const alerts = z
  .object({
    holdOffS: alertFields.holdOffS.unwrap(),
    resolveAfterNormal: alertFields.resolveAfterNormal.unwrap(),
  })
  .partial()
  .strict();

/** Nested like the agent config; every key optional, unknown keys refused. */
export const ConfigOverlaySchema = z.object({ alerts }).partial().strict();

export type ConfigOverlay = z.output<typeof ConfigOverlaySchema>;

/** Dotted names of the keys the overlay may set (documented in docs/ARCHITECTURE.md). */
export const OVERLAY_KEYS = ['alerts.holdOffS', 'alerts.resolveAfterNormal'] as const;

/** The hot-reloadable part of the agent config, after the overlay. */
export interface HotConfig {
  alerts: { holdOffS: number; resolveAfterNormal: number };
}

export type OverlayCheck = { ok: true; overlay: ConfigOverlay } | { ok: false; reason: string };

/** Validates an untrusted overlay; every problem is named by its dotted key. */
export function checkOverlay(raw: unknown): OverlayCheck {
  const r = ConfigOverlaySchema.safeParse(raw ?? {});
  if (r.success) return { ok: true, overlay: r.data };
  return { ok: false, reason: r.error.issues.map(describeIssue).join('; ') };
}

function describeIssue(i: z.core.$ZodIssue): string {
  const at = i.path.map(String).join('.');
  if (i.code === 'unrecognized_keys') {
    const keys = i.keys.map((k) => (at ? `${at}.${k}` : k));
    return `config key ${keys.join(', ')} is not hot-reloadable (allowed: ${OVERLAY_KEYS.join(', ')})`;
  }
  return `config ${at || '(root)'}: ${i.message}`;
}

/** The base config's hot keys with the overlay's values on top. */
export function effectiveHotConfig(base: HotConfig, overlay: ConfigOverlay): HotConfig {
  return {
    alerts: {
      holdOffS: overlay.alerts?.holdOffS ?? base.alerts.holdOffS,
      resolveAfterNormal: overlay.alerts?.resolveAfterNormal ?? base.alerts.resolveAfterNormal,
    },
  };
}
