import { z } from 'zod';
import type { ChannelSpec, SampleSink, Source } from '../domain/channel.js';
import { ErrorCode, MillwrightError } from '../domain/errors.js';
import { ChannelSpecSchema, SingleSampleEmitter, toChannelSpec } from './channel-schema.js';
import type { Clock } from './clock.js';
import { type LineStream, openLines } from './file-io.js';
import { CsvFormat, type LineFormat, NdjsonFormat } from './replay-formats.js';
import { Pacer, PaceSchema, TimestampModeSchema } from './replay-pace.js';
import type { LineSample } from './replay-parse.js';

/** A replayed channel: `field` is the CSV column or NDJSON key/channel id (default: `name`). */
export const ReplayChannelSchema = ChannelSpecSchema.extend({ field: z.string().min(1).optional() });

const lineReplayBase = {
  id: z.string().min(1),
  path: z.string().min(1),
  pace: PaceSchema,
  timestamps: TimestampModeSchema,
  channels: z.array(ReplayChannelSchema).min(1),
};

/** CSV replay: header with a timestamp column (ms or ISO 8601) and one column per channel. */
export const CsvReplayConfigSchema = z.object({
  ...lineReplayBase,
  /** @default 'timestamp' */
  timestampColumn: z.string().min(1).default('timestamp'),
  /** @default ',' */
  delimiter: z.string().length(1).default(','),
});

/** NDJSON replay; see {@link NdjsonFormat} for the two accepted line shapes. */
export const NdjsonReplayConfigSchema = z.object({
  ...lineReplayBase,
  /** @default 'ts' */
  tsField: z.string().min(1).default('ts'),
});

export type CsvReplayConfig = z.input<typeof CsvReplayConfigSchema>;
export type NdjsonReplayConfig = z.input<typeof NdjsonReplayConfigSchema>;

/** Progress and rejects of a replay. */
export interface ReplayStats {
  lines: number;
  samples: number;
  badLines: number;
  /** Lines whose fields name no configured channel. */
  unmatchedLines: number;
  /** The most recent problems, as `file:line: reason` (at most 20). */
  recentErrors: string[];
  /** Samples the sink threw on. */
  sinkErrors: number;
  finished: boolean;
}

/** What a replay needs from outside. */
export interface ReplayDeps {
  clock: Clock;
  /** Called for every skipped line with `file:line: reason`. */
  onBadLine?: (message: string) => void;
}

const MAX_RECENT_ERRORS = 20;

/**
 * Replays a CSV or NDJSON file line by line (the file is streamed, never loaded whole), paced by
 * the records' timestamps. Malformed lines are counted and skipped.
 */
export class LineReplaySource implements Source {
  readonly channels: readonly ChannelSpec[];
  private readonly counters: ReplayStats = emptyStats();
  private readonly emitter = new SingleSampleEmitter();
  private readonly batch: LineSample[] = [];
  private abort: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private finished: Promise<ReplayStats> | undefined;

  private constructor(
    readonly id: string,
    private readonly path: string,
    private readonly format: LineFormat,
    private readonly pacer: Pacer,
    channels: ChannelSpec[],
    private readonly deps: ReplayDeps,
  ) {
    this.channels = channels;
  }

  /** A CSV replay source. */
  static csv(config: CsvReplayConfig, deps: ReplayDeps): LineReplaySource {
    const c = CsvReplayConfigSchema.parse(config);
    const format = new CsvFormat(c.timestampColumn, fieldsOf(c.channels), c.delimiter);
    return new LineReplaySource(
      c.id,
      c.path,
      format,
      new Pacer(deps.clock, c.pace, c.timestamps),
      specsOf(c.channels),
      deps,
    );
  }

  /** An NDJSON replay source. */
  static ndjson(config: NdjsonReplayConfig, deps: ReplayDeps): LineReplaySource {
    const c = NdjsonReplayConfigSchema.parse(config);
    const format = new NdjsonFormat(c.tsField, fieldsOf(c.channels));
    return new LineReplaySource(
      c.id,
      c.path,
      format,
      new Pacer(deps.clock, c.pace, c.timestamps),
      specsOf(c.channels),
      deps,
    );
  }

  /** Opens the file and checks its header; @throws MillwrightError NOT_FOUND or INVALID (bad header). */
  async start(sink: SampleSink): Promise<void> {
    if (this.abort)
      throw new MillwrightError(ErrorCode.PRECONDITION, `source ${this.id} already started`, { source: this.id });
    this.abort = new AbortController();
    const stream = await openLines(this.path);
    try {
      await this.readHeader(stream);
    } catch (err) {
      await stream.close();
      throw err;
    }
    this.loop = this.run(stream, sink, this.abort.signal);
    this.finished = this.loop.then(() => this.stats());
  }

  async stop(): Promise<void> {
    this.abort?.abort(new MillwrightError(ErrorCode.UNAVAILABLE, `source ${this.id} stopped`));
    await this.loop;
  }

  /** Resolves when the whole file has been replayed (or the source stopped). */
  done(): Promise<ReplayStats> {
    if (!this.finished) throw new MillwrightError(ErrorCode.PRECONDITION, `source ${this.id} not started`);
    return this.finished;
  }

  stats(): ReplayStats {
    return { ...this.counters, recentErrors: [...this.counters.recentErrors] };
  }

  private async readHeader(stream: LineStream): Promise<void> {
    if (!this.format.hasHeader) return;
    const first = await stream.lines.next();
    this.counters.lines++;
    const header = this.format.header(first.done ? '' : first.value);
    if (!header.ok)
      throw new MillwrightError(ErrorCode.INVALID, `${this.path}:1: ${header.error}`, { path: this.path, line: 1 });
  }

  private async run(stream: LineStream, sink: SampleSink, signal: AbortSignal): Promise<void> {
    try {
      for (let r = await stream.lines.next(); !r.done && !signal.aborted; r = await stream.lines.next()) {
        await this.line(r.value, sink, signal);
      }
    } catch (err) {
      if (!signal.aborted) this.bad(`${this.path}: replay aborted: ${(err as Error).message}`);
    } finally {
      this.counters.finished = true;
      await stream.close();
    }
  }

  private async line(text: string, sink: SampleSink, signal: AbortSignal): Promise<void> {
    const lineNo = ++this.counters.lines;
    if (text.trim() === '' || text.startsWith('#')) return;
    this.batch.length = 0;
    const parsed = this.format.parse(text, this.batch);
    if (!parsed.ok) return this.bad(`${this.path}:${lineNo}: ${parsed.error}`);
    if (parsed.value.unmatched) this.counters.unmatchedLines++;
    if (this.batch.length === 0) return;
    const tMs = await this.pacer.due(this.batch[0]!.tMs, signal);
    for (const s of this.batch) {
      if (this.emitter.emit(sink, this.channels[s.channel]!, tMs, s.value)) this.counters.samples++;
      else this.counters.sinkErrors++;
    }
  }

  private bad(message: string): void {
    this.counters.badLines++;
    this.counters.recentErrors.push(message);
    if (this.counters.recentErrors.length > MAX_RECENT_ERRORS) this.counters.recentErrors.shift();
    this.deps.onBadLine?.(message);
  }
}

function fieldsOf(channels: z.output<typeof ReplayChannelSchema>[]): string[] {
  return channels.map((c) => c.field ?? c.name);
}

function specsOf(channels: z.output<typeof ReplayChannelSchema>[]): ChannelSpec[] {
  return channels.map(toChannelSpec);
}

function emptyStats(): ReplayStats {
  return { lines: 0, samples: 0, badLines: 0, unmatchedLines: 0, recentErrors: [], sinkErrors: 0, finished: false };
}
