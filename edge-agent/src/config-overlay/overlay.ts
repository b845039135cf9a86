/**
 * The desired state's `config` (the control plane's merged fleet -> site -> label group -> agent
 * layers) as an overlay over the agent's file/env config. Only keys that can change without a
 * restart are accepted; the overlay is merged over the file config and the result validated by the
 * agent's own schemas, so every problem is named by its dotted key.
 */
import { z } from 'zod';
import { type CaptureConfig, CaptureConfigSchema, type CapturePolicy } from '../capture/policy.js';
import { type AgentConfig, AgentConfigSchema } from '../config.js';

/** The overlay as received (nested like the agent config), once it passed `checkOverlay`. */
export type ConfigOverlay = Record<string, unknown>;

/** The parts of the file/env config the overlay may change (an AgentConfig fits; absent parts: defaults). */
export interface HotBase {
  alerts: Pick<AgentConfig['alerts'], 'holdOffS' | 'resolveAfterNormal'>;
  cleaning?: AgentConfig['cleaning'];
  capture?: CaptureConfig;
}

/** The hot-reloadable part of the agent config, after the overlay. */
export interface HotConfig {
  alerts: { holdOffS: number; resolveAfterNormal: number };
  cleaning: AgentConfig['cleaning'];
  capture: CaptureConfig;
  /**
   * The desired state's own CapturePolicy (`DesiredState.capture`, which the control plane does not
   * write): its rules win over `capture.*`, its limits only lower the agent's caps (capture/policy.ts).
   */
  capturePolicy?: CapturePolicy;
}

export type OverlayCheck = { ok: true; overlay: ConfigOverlay; config: HotConfig } | { ok: false; reason: string };

/** Dotted names of the keys the overlay may set (documented in docs/ARCHITECTURE.md). */
export const OVERLAY_KEYS = ['alerts.holdOffS', 'alerts.resolveAfterNormal', 'cleaning.*', 'capture.*'] as const;

/** `true`: the whole subtree is hot. */
const HOT: Record<string, true | Record<string, true>> = {
  alerts: { holdOffS: true, resolveAfterNormal: true },
  cleaning: true,
  capture: true,
};

const ALERTS = AgentConfigSchema.shape.alerts;
const CLEANING = AgentConfigSchema.shape.cleaning;
const CLEANING_DEFAULTS = CLEANING.unwrap().shape.defaults;

/** Marks a key an overlay `null` removes (back to the agent's default). */
const REMOVE = Symbol('remove');

/**
 * Validates an untrusted overlay against `base` (the file/env config). `null` removes a key (its
 * default applies) except where null is a value: `hampel: null` and `stuck: null` turn a check off.
 */
export function checkOverlay(raw: unknown, hotBase: HotBase): OverlayCheck {
  const base = complete(hotBase);
  const overlay = raw ?? {};
  if (!isPlain(overlay)) return { ok: false, reason: 'config (root): expected an object of config keys' };
  const cold = coldKeys(overlay);
  if (cold.length > 0) {
    const allowed = OVERLAY_KEYS.join(', ');
    return { ok: false, reason: `config key ${cold.join(', ')} is not hot-reloadable (allowed: ${allowed})` };
  }
  const problems: string[] = [];
  const alerts = section(mergeBySchema(ALERTS, base.alerts, overlay.alerts, ['alerts'], problems));
  const capture = section(mergeBySchema(CaptureConfigSchema, base.capture, overlay.capture, ['capture'], problems));
  const cleaning = section(mergeCleaning(base.cleaning, overlay.cleaning, problems));
  const a = parseSection(ALERTS, alerts, 'alerts', problems);
  const cap = parseSection(CaptureConfigSchema, capture, 'capture', problems);
  const cl = parseSection(CLEANING, cleaning, 'cleaning', problems);
  if (problems.length > 0 || !a || !cap || !cl) return { ok: false, reason: problems.join('; ') };
  return {
    ok: true,
    overlay,
    config: { alerts: { holdOffS: a.holdOffS, resolveAfterNormal: a.resolveAfterNormal }, cleaning: cl, capture: cap },
  };
}

/** The file config's hot part, with no overlay. */
export function baseHotConfig(hotBase: HotBase): HotConfig {
  const base = complete(hotBase);
  const { holdOffS, resolveAfterNormal } = base.alerts;
  return { alerts: { holdOffS, resolveAfterNormal }, cleaning: base.cleaning, capture: base.capture };
}

function complete(base: HotBase): Required<HotBase> {
  return {
    alerts: base.alerts,
    cleaning: base.cleaning ?? CLEANING.parse(undefined),
    capture: base.capture ?? CaptureConfigSchema.parse({}),
  };
}

/** Keys outside the hot-reloadable ones (unknown keys included: they cannot be hot-applied either). */
function coldKeys(overlay: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(overlay)) {
    const hot = HOT[k];
    if (hot === undefined) out.push(k);
    else if (hot !== true && isPlain(v)) for (const sub of Object.keys(v)) if (!hot[sub]) out.push(`${k}.${sub}`);
  }
  return out;
}

/**
 * A channel entry the overlay adds starts from the overlaid defaults (a channel without an entry
 * runs with them), not from the bare schema defaults; entries of the file config are kept whole.
 */
function mergeCleaning(base: AgentConfig['cleaning'], over: unknown, problems: string[]): unknown {
  if (!isPlain(over) || !isPlain(over.channels)) return mergeBySchema(CLEANING, base, over, ['cleaning'], problems);
  const defaults = mergeBySchema(CLEANING_DEFAULTS, base.defaults, over.defaults, ['cleaning', 'defaults'], []);
  const channels: Record<string, unknown> = { ...base.channels };
  for (const name of Object.keys(over.channels))
    if (!(name in channels)) channels[name] = defaults === REMOVE ? {} : defaults;
  return mergeBySchema(CLEANING, { ...base, channels }, over, ['cleaning'], problems);
}

/**
 * Deep-merges `over` onto `base` guided by `schema`: unknown keys are problems, `null` keeps its
 * meaning where the schema is nullable and removes the key elsewhere; values are left to the parse.
 */
function mergeBySchema(schema: z.ZodType, base: unknown, over: unknown, path: string[], problems: string[]): unknown {
  if (over === undefined) return base;
  const { core, nullable } = unwrap(schema);
  if (over === null) return nullable ? null : REMOVE;
  if (!isPlain(over)) return over;
  const fields = core instanceof z.ZodObject ? (core.shape as Record<string, z.ZodType>) : undefined;
  const values = core instanceof z.ZodRecord ? (core.valueType as z.ZodType) : undefined;
  if (!fields && !values) return over;
  const out: Record<string, unknown> = isPlain(base) ? { ...base } : {};
  for (const [k, v] of Object.entries(over)) {
    const sub = fields ? fields[k] : values;
    if (!sub) {
      problems.push(`config key ${[...path, k].join('.')} is unknown`);
      continue;
    }
    const merged = mergeBySchema(sub, out[k], v, [...path, k], problems);
    if (merged === REMOVE) delete out[k];
    else out[k] = merged;
  }
  return out;
}

function unwrap(schema: z.ZodType): { core: z.ZodType; nullable: boolean } {
  let core = schema;
  let nullable = false;
  for (;;) {
    if (core instanceof z.ZodNullable) nullable = true;
    if (
      core instanceof z.ZodNullable ||
      core instanceof z.ZodOptional ||
      core instanceof z.ZodDefault ||
      core instanceof z.ZodPrefault
    )
      core = core.unwrap() as z.ZodType;
    else return { core, nullable };
  }
}

function section(v: unknown): unknown {
  return v === REMOVE ? {} : v;
}

function parseSection<S extends z.ZodType>(
  schema: S,
  value: unknown,
  name: string,
  problems: string[],
): z.output<S> | undefined {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  for (const i of r.error.issues) problems.push(`config ${[name, ...i.path.map(String)].join('.')}: ${i.message}`);
  return undefined;
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
