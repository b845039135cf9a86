/** Decoding of sensor values from MQTT payloads; failures are reasons, never throws. */

/** How a payload carries its value. */
export interface PayloadFormat {
  /** `number`: the payload is a decimal number; `json`: a JSON number or object; `auto`: either. */
  format: 'auto' | 'number' | 'json';
  /** Dot path of the value inside a JSON object, e.g. `value` or `data.temp`. */
  valuePath: string;
  /** Dot path of the timestamp (ms or ISO 8601) inside a JSON object. */
  tsPath: string;
}

export type Decoded = { ok: true; value: number; tsMs: number | undefined } | { ok: false; error: string };

const ISO_DATE = /^\d{4}-\d{2}-\d{2}/;
const HAS_ZONE = /(Z|[+-]\d{2}:?\d{2})$/i;

/** Decodes one payload. A JSON `null` value is NaN (the device reported no reading). */
export function decodePayload(payload: Uint8Array, fmt: PayloadFormat): Decoded {
  const text = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8').trim();
  if (fmt.format !== 'json') {
    const n = plainNumber(text);
    if (n !== undefined) return { ok: true, value: n, tsMs: undefined };
    if (fmt.format === 'number') return { ok: false, error: `payload "${clip(text)}" is not a number` };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { ok: false, error: `payload "${clip(text)}" is neither a number nor JSON` };
  }
  return fromJson(doc, fmt);
}

function fromJson(doc: unknown, fmt: PayloadFormat): Decoded {
  if (typeof doc === 'number') return { ok: true, value: doc, tsMs: undefined };
  if (typeof doc !== 'object' || doc === null) return { ok: false, error: 'JSON payload is not a number or object' };
  const raw = pick(doc, fmt.valuePath);
  const value = raw === null ? Number.NaN : typeof raw === 'string' ? plainNumber(raw) : raw;
  if (typeof value !== 'number') return { ok: false, error: `"${fmt.valuePath}" is missing or not a number` };
  const ts = pick(doc, fmt.tsPath);
  if (ts === undefined) return { ok: true, value, tsMs: undefined };
  const tsMs = timestamp(ts);
  if (tsMs === undefined) return { ok: false, error: `"${fmt.tsPath}" is not a timestamp (ms or ISO 8601)` };
  return { ok: true, value, tsMs };
}

function pick(doc: object, path: string): unknown {
  let cur: unknown = doc;
  for (const key of path.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function plainNumber(text: string): number | undefined {
  if (text === '') return undefined;
  const lower = text.toLowerCase();
  if (lower === 'nan') return Number.NaN;
  const n = Number(text);
  return Number.isNaN(n) ? undefined : n;
}

function timestamp(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isFinite(raw) ? raw : undefined;
  if (typeof raw !== 'string' || !ISO_DATE.test(raw)) return undefined;
  const ms = Date.parse(HAS_ZONE.test(raw) ? raw : `${raw}Z`);
  return Number.isNaN(ms) ? undefined : ms;
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
