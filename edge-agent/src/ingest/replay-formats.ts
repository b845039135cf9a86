import {
  type LineSample,
  type Parsed,
  parseFail,
  parseOk,
  parseTimestamp,
  parseValue,
  splitCsv,
} from './replay-parse.js';

/** Turns text lines into samples of the configured channels (by index). */
export interface LineFormat {
  /** Consumes the first line when the format has a header; errors here make the file unusable. */
  readonly hasHeader: boolean;
  header(line: string): Parsed<void>;
  /** Appends the line's samples to `out`; `unmatched` is true when none of its fields is configured. */
  parse(line: string, out: LineSample[]): Parsed<{ unmatched: boolean }>;
}

/** CSV: a header naming a timestamp column and channel columns; empty cells are "no sample". */
export class CsvFormat implements LineFormat {
  readonly hasHeader = true;
  private width = 0;
  private tsIndex = -1;
  private columns: number[] = [];

  constructor(
    private readonly timestampColumn: string,
    private readonly fields: readonly string[],
    private readonly delimiter: string,
  ) {}

  header(line: string): Parsed<void> {
    const cols = splitCsv(line.replace(/^\uFEFF/, ''), this.delimiter);
    if (!cols.ok) return cols;
    this.width = cols.value.length;
    this.tsIndex = cols.value.indexOf(this.timestampColumn);
    if (this.tsIndex < 0)
      return parseFail(`header has no timestamp column "${this.timestampColumn}" (columns: ${cols.value.join(', ')})`);
    this.columns = this.fields.map((f) => cols.value.indexOf(f));
    const missing = this.fields.filter((_, i) => this.columns[i]! < 0);
    if (missing.length > 0)
      return parseFail(`header lacks column(s) ${missing.join(', ')} (columns: ${cols.value.join(', ')})`);
    return parseOk(undefined);
  }

  parse(line: string, out: LineSample[]): Parsed<{ unmatched: boolean }> {
    const cols = splitCsv(line, this.delimiter);
    if (!cols.ok) return cols;
    if (cols.value.length !== this.width) return parseFail(`expected ${this.width} fields, got ${cols.value.length}`);
    const ts = parseTimestamp(cols.value[this.tsIndex]);
    if (!ts.ok) return ts;
    const start = out.length;
    for (let c = 0; c < this.columns.length; c++) {
      const cell = cols.value[this.columns[c]!]!;
      if (cell === '') continue;
      const v = parseValue(cell);
      if (!v.ok) {
        out.length = start;
        return parseFail(`column "${this.fields[c]}": ${v.error}`);
      }
      out.push({ channel: c, tMs: ts.value, value: v.value });
    }
    return parseOk({ unmatched: false });
  }
}

/**
 * NDJSON, one object per line, in either shape:
 * - long: `{"ts": ..., "channel": "<field>", "value": <number>}`
 * - wide: `{"ts": ..., "<field>": <number>, "<field>": <number>, ...}`
 * A line is long when it has a string `channel` and a `value` key. `null` values are NaN.
 */
export class NdjsonFormat implements LineFormat {
  readonly hasHeader = false;
  private readonly index: Map<string, number>;

  constructor(
    private readonly tsField: string,
    private readonly fields: readonly string[],
  ) {
    this.index = new Map(fields.map((f, i) => [f, i]));
  }

  header(): Parsed<void> {
    return parseOk(undefined);
  }

  parse(line: string, out: LineSample[]): Parsed<{ unmatched: boolean }> {
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (err) {
      return parseFail(`not valid JSON: ${(err as Error).message}`);
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return parseFail('line is not a JSON object');
    const rec = obj as Record<string, unknown>;
    const ts = parseTimestamp(rec[this.tsField]);
    if (!ts.ok) return parseFail(`"${this.tsField}": ${ts.error}`);
    if (typeof rec['channel'] === 'string' && 'value' in rec) return this.long(rec, ts.value, out);
    return this.wide(rec, ts.value, out);
  }

  private long(rec: Record<string, unknown>, tMs: number, out: LineSample[]): Parsed<{ unmatched: boolean }> {
    const channel = this.index.get(rec['channel'] as string);
    if (channel === undefined) return parseOk({ unmatched: true });
    const v = parseValue(rec['value']);
    if (!v.ok) return parseFail(`"value": ${v.error}`);
    out.push({ channel, tMs, value: v.value });
    return parseOk({ unmatched: false });
  }

  private wide(rec: Record<string, unknown>, tMs: number, out: LineSample[]): Parsed<{ unmatched: boolean }> {
    const start = out.length;
    for (let c = 0; c < this.fields.length; c++) {
      const field = this.fields[c]!;
      if (!(field in rec)) continue;
      const v = parseValue(rec[field]);
      if (!v.ok) {
        out.length = start;
        return parseFail(`"${field}": ${v.error}`);
      }
      out.push({ channel: c, tMs, value: v.value });
    }
    return parseOk({ unmatched: out.length === start });
  }
}
