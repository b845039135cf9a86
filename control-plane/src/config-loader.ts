import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from './domain/errors.js';

/**
 * Generic part of `loadConfig`: YAML file values, overlaid by `MW_` environment variables derived
 * from the schema's key paths (`health.staleAfterS` -> `MW_HEALTH_STALE_AFTER_S`), overlaid by
 * `MW_..._FILE` variables whose file content is the value (secrets). Pure apart from `readFile`.
 */
export interface ConfigSources {
  env: Record<string, string | undefined>;
  /** YAML text of the config file, if any. */
  fileText?: string;
  /** Reads a `*_FILE` secret; injected so loading stays testable. */
  readFile?: (path: string) => string;
}

type Leaf = { path: string[]; kind: string };

export function envName(path: string[]): string {
  return `MW_${path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_')}`;
}

/** Every environment variable a schema accepts (documented in docs and checked by deploy tests). */
export function envVarNames(schema: z.ZodType): string[] {
  return leaves(schema, []).map((l) => envName(l.path));
}

export function loadConfigWith<S extends z.ZodType>(schema: S, src: ConfigSources): Readonly<z.output<S>> {
  const issues: string[] = [];
  let base: Record<string, unknown> = {};
  if (src.fileText?.trim()) {
    try {
      base = (parseYaml(src.fileText) as Record<string, unknown> | null) ?? {};
    } catch (err) {
      throw new ConfigError([`config file is not valid YAML: ${(err as Error).message}`]);
    }
  }
  for (const leaf of leaves(schema, [])) {
    const name = envName(leaf.path);
    let raw = src.env[name];
    const fileVar = src.env[`${name}_FILE`];
    if (fileVar !== undefined) {
      try {
        raw = (src.readFile ?? missingReader)(fileVar).trim();
      } catch (err) {
        issues.push(`${leaf.path.join('.')} (${name}_FILE): cannot read ${fileVar}: ${(err as Error).message}`);
        continue;
      }
    }
    if (raw === undefined || raw === '') continue;
    setPath(base, leaf.path, coerce(raw, leaf.kind));
  }
  if (issues.length > 0) throw new ConfigError(issues);
  const result = schema.safeParse(base);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((i) => {
        const path = i.path.map(String);
        return `${path.join('.') || '(root)'} (${envName(path)}): ${i.message}`;
      }),
    );
  }
  return deepFreeze(result.data);
}

function missingReader(): string {
  throw new Error('no file reader configured');
}

function coerce(raw: string, kind: string): unknown {
  switch (kind) {
    case 'number':
    case 'int':
      return raw.trim() === '' ? raw : Number(raw);
    case 'boolean':
      return raw === 'true' || raw === '1' ? true : raw === 'false' || raw === '0' ? false : raw;
    case 'array':
      // A JSON array for lists of objects (e.g. MW_SOURCES), else comma-separated strings.
      if (raw.trim().startsWith('[')) return parseJson(raw);
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    case 'record':
    case 'object':
      return parseJson(raw);
    default:
      return raw;
  }
}

/** JSON when it parses; otherwise the raw text, so validation reports the key. */
function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj;
  for (const key of path.slice(0, -1)) {
    if (typeof cur[key] !== 'object' || cur[key] === null) cur[key] = {};
    cur = cur[key] as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = value;
}

interface ZodDefLike {
  type: string;
  innerType?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  in?: z.ZodType;
}

function def(schema: z.ZodType): ZodDefLike {
  return (schema as unknown as { _zod: { def: ZodDefLike } })._zod.def;
}

function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (;;) {
    const d = def(s);
    if (
      (d.type === 'optional' || d.type === 'default' || d.type === 'nullable' || d.type === 'prefault') &&
      d.innerType
    )
      s = d.innerType;
    else if (d.type === 'pipe' && d.in) s = d.in;
    else return s;
  }
}

function leaves(schema: z.ZodType, path: string[]): Leaf[] {
  const s = unwrap(schema);
  const d = def(s);
  if (d.type === 'object' && d.shape) {
    const shape = (s as unknown as { shape: Record<string, z.ZodType> }).shape;
    return Object.entries(shape).flatMap(([k, v]) => leaves(v, [...path, k]));
  }
  return [{ path, kind: d.type }];
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
