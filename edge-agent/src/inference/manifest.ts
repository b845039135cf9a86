import { z } from 'zod';
import { ModelLoadError } from '../domain/errors.js';
import type { ModelManifest } from '../domain/model.js';

const finite = z.number().refine(Number.isFinite, 'must be finite');

const manifestSchema = z.object({
  model: z.string().min(1),
  version: z.string().min(1),
  runtime: z.string().min(1),
  inputs: z.array(z.object({ name: z.string().min(1), unit: z.string() })).min(1, 'must list at least one feature'),
  output: z.object({ alertThreshold: finite, onnxOutput: z.string().optional() }),
  selfTest: z.array(
    z.object({ inputs: z.array(z.number().or(z.nan())), expectedScore: finite, tolerance: finite.min(0) }),
  ),
  reference: z.array(z.object({ feature: z.string(), mean: z.number() })),
});

/**
 * Checks what every runtime relies on: non-empty unique input names, a finite alert threshold and
 * self-test vectors as wide as the inputs. Reports every problem at once.
 * @throws ModelLoadError with `details.issues` naming each bad field.
 */
export function validateManifest(manifest: ModelManifest): void {
  const parsed = manifestSchema.safeParse(manifest);
  const issues = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  if (parsed.success) issues.push(...duplicateNames(manifest), ...selfTestWidths(manifest));
  if (issues.length > 0) {
    throw new ModelLoadError(`invalid manifest for ${label(manifest)}:\n  - ${issues.join('\n  - ')}`, {
      model: manifest?.model,
      version: manifest?.version,
      issues,
    });
  }
}

function duplicateNames(manifest: ModelManifest): string[] {
  const seen = new Set<string>();
  const issues: string[] = [];
  for (const [i, f] of manifest.inputs.entries()) {
    if (seen.has(f.name)) issues.push(`inputs.${i}.name: duplicate feature name '${f.name}'`);
    seen.add(f.name);
  }
  return issues;
}

function selfTestWidths(manifest: ModelManifest): string[] {
  const want = manifest.inputs.length;
  return manifest.selfTest.flatMap((v, i) =>
    v.inputs.length === want
      ? []
      : [`selfTest.${i}.inputs: has ${v.inputs.length} values, manifest has ${want} inputs`],
  );
}

/**
 * Throws when the artifact's feature count differs from the manifest's input count.
 * @throws ModelLoadError naming `what` (e.g. "weights length") with both widths in `details`.
 */
export function assertArtifactWidth(manifest: ModelManifest, actual: number, what: string): void {
  const expected = manifest.inputs.length;
  if (actual === expected) return;
  throw new ModelLoadError(
    `${label(manifest)}: artifact ${what} is ${actual} but the manifest lists ${expected} inputs`,
    { model: manifest.model, version: manifest.version, what, expected, actual },
  );
}

/**
 * Decodes a JSON artifact and validates it with `schema`.
 * @throws ModelLoadError when the bytes are not UTF-8 JSON or do not match the schema.
 */
export function parseJsonArtifact<T>(manifest: ModelManifest, bytes: Uint8Array, schema: z.ZodType<T>): T {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new ModelLoadError(
      `${label(manifest)}: artifact is not valid JSON`,
      { model: manifest.model },
      { cause: err },
    );
  }
  return matchSchema(manifest, raw, schema, `the ${manifest.runtime} format`);
}

/**
 * Validates part of an artifact with `schema`.
 * @throws ModelLoadError listing every mismatch, naming `what` was expected.
 */
export function matchSchema<T>(manifest: ModelManifest, value: unknown, schema: z.ZodType<T>, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new ModelLoadError(`${label(manifest)}: artifact does not match ${what}:\n  - ${issues.join('\n  - ')}`, {
    model: manifest.model,
    runtime: manifest.runtime,
    issues,
  });
}

/** Human label used in load errors, e.g. "pump-anomaly@1.4.0 (xgboost_json)". */
export function label(manifest: ModelManifest): string {
  return `${manifest?.model ?? '?'}@${manifest?.version ?? '?'} (${manifest?.runtime ?? '?'})`;
}

/** Reference means aligned with the manifest inputs; NaN where the manifest has none. */
export function referenceMeans(manifest: ModelManifest): Float64Array {
  const byName = new Map(manifest.reference.map((r) => [r.feature, r.mean]));
  return Float64Array.from(manifest.inputs, (f) => byName.get(f.name) ?? Number.NaN);
}
