import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { ChannelSpec, SampleSink, Source } from '../domain/channel.js';
import { ErrorCode, MillwrightError } from '../domain/errors.js';
import { safeSink } from './channel-schema.js';
import type { Clock } from './clock.js';
import { type BinaryFile, openBinary, readJsonFile } from './file-io.js';
import { Pacer, PaceSchema, TimestampModeSchema } from './replay-pace.js';
import { parseTimestamp } from './replay-parse.js';

/**
 * Sidecar of a float32 LE interleaved recording (format of the shared bearings data set):
 * `[snapshot][sample][channel]` (FEMTO, with a `snapshots` list carrying each snapshot's timestamp)
 * or `[sample][channel]` (CWRU, IMS; optional `snapshot_timestamp` for the first sample).
 */
export const F32SidecarSchema = z.object({
  file: z.string().min(1),
  dtype: z.literal('<f4').optional(),
  shape: z.union([
    z.tuple([z.number().int().positive(), z.number().int().positive()]),
    z.tuple([z.number().int().positive(), z.number().int().positive(), z.number().int().positive()]),
  ]),
  channels: z.array(z.string().min(1)).min(1),
  sampling_rate_hz: z.number().positive(),
  units: z.string().optional(),
  bearing: z.string().optional(),
  snapshot_timestamp: z.string().optional(),
  snapshots: z.array(z.object({ timestamp: z.string() }).loose()).optional(),
});
export type F32Sidecar = z.output<typeof F32SidecarSchema>;

/** Replay of a `.f32` recording described by its JSON sidecar. */
export const F32ReplayConfigSchema = z.object({
  id: z.string().min(1),
  /** Path of the JSON sidecar; the data file is its `file`, next to it. */
  sidecar: z.string().min(1),
  /** Asset of the channels. @default the sidecar's `bearing`, else the data file's stem */
  asset: z.string().min(1).optional(),
  /** Channel names in sidecar order. @default `<asset>.<sidecar channel>` */
  channelNames: z.array(z.string().min(1)).optional(),
  /** @default the first word of the sidecar's `units`, else 'g' */
  unit: z.string().optional(),
  pace: PaceSchema,
  timestamps: TimestampModeSchema,
  /** First snapshot (3-D files) to replay. @default 0 */
  fromSnapshot: z.number().int().min(0).default(0),
  /** Snapshots (3-D) to replay; all when absent. */
  maxSnapshots: z.number().int().positive().optional(),
  /** Samples per block for 2-D files. @default a tenth of a second */
  blockSamples: z.number().int().positive().optional(),
  /** Time of the first sample of a 2-D file without a timestamp. @default the clock at start() */
  startTimeMs: z.number().optional(),
});
export type F32ReplayConfig = z.input<typeof F32ReplayConfigSchema>;

/** Progress of an f32 replay. */
export interface F32ReplayStats {
  blocks: number;
  samples: number;
  finished: boolean;
  /** Blocks the sink threw on. */
  sinkErrors: number;
  /** Why the replay ended early, if it did (read error, short file, failing sink). */
  error?: string;
}

interface Plan {
  /** Number of blocks. */
  count: number;
  samplesPerBlock: number;
  byteOffset(block: number): number;
  fileMs(block: number): number;
}

/**
 * Replays real vibration recordings block by block: one block per channel per FEMTO snapshot, or
 * consecutive slices of a continuous recording. Reads only the bytes of the block being emitted.
 */
export class F32ReplaySource implements Source {
  private readonly counters: F32ReplayStats = { blocks: 0, samples: 0, sinkErrors: 0, finished: false };
  private readonly buffers: Float64Array[];
  private abort: AbortController | undefined;
  private loop: Promise<void> | undefined;

  private constructor(
    readonly id: string,
    readonly channels: readonly ChannelSpec[],
    private readonly dataPath: string,
    private readonly sidecar: F32Sidecar,
    private readonly config: z.output<typeof F32ReplayConfigSchema>,
    private readonly deps: { clock: Clock },
  ) {
    this.buffers = channels.map(() => new Float64Array(this.samplesPerBlock()));
  }

  /** Reads and checks the sidecar. @throws MillwrightError NOT_FOUND / INVALID naming the sidecar */
  static async open(config: F32ReplayConfig, deps: { clock: Clock }): Promise<F32ReplaySource> {
    const c = F32ReplayConfigSchema.parse(config);
    const parsed = F32SidecarSchema.safeParse(await readJsonFile(c.sidecar));
    if (!parsed.success)
      throw invalid(c.sidecar, parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    const sc = parsed.data;
    checkSidecar(c.sidecar, sc);
    const asset = c.asset ?? sc.bearing ?? sc.file.replace(/\.f32$/, '');
    const names = c.channelNames ?? sc.channels.map((ch) => `${asset}.${ch}`);
    if (names.length !== sc.channels.length)
      throw invalid(c.sidecar, `channelNames has ${names.length} names for ${sc.channels.length} channels`);
    const unit = c.unit ?? sc.units?.split(/\s+/)[0] ?? 'g';
    const specs = names.map((name) => ({
      name,
      unit,
      sampleRateHz: sc.sampling_rate_hz,
      kind: 'vibration' as const,
      asset,
    }));
    return new F32ReplaySource(c.id, specs, join(dirname(c.sidecar), sc.file), sc, c, deps);
  }

  async start(sink: SampleSink): Promise<void> {
    if (this.abort)
      throw new MillwrightError(ErrorCode.PRECONDITION, `source ${this.id} already started`, { source: this.id });
    this.abort = new AbortController();
    const file = await openBinary(this.dataPath);
    const expected = this.sidecar.shape.reduce((a, b) => a * b, 1) * 4;
    if (file.size < expected) {
      await file.close();
      throw invalid(this.dataPath, `holds ${file.size} bytes, the sidecar's shape needs ${expected}`);
    }
    this.loop = this.run(file, sink, this.abort.signal);
  }

  async stop(): Promise<void> {
    this.abort?.abort(new MillwrightError(ErrorCode.UNAVAILABLE, `source ${this.id} stopped`));
    await this.loop;
  }

  /** Resolves when every selected block has been replayed (or the source stopped). */
  async done(): Promise<F32ReplayStats> {
    await this.loop;
    return this.stats();
  }

  stats(): F32ReplayStats {
    return { ...this.counters };
  }

  private async run(file: BinaryFile, sink: SampleSink, signal: AbortSignal): Promise<void> {
    const plan = this.plan();
    const pacer = new Pacer(this.deps.clock, this.config.pace, this.config.timestamps);
    const bytes = new Uint8Array(plan.samplesPerBlock * this.channels.length * 4);
    const view = new DataView(bytes.buffer);
    try {
      for (let b = 0; b < plan.count && !signal.aborted; b++) {
        const read = await file.read(bytes, plan.byteOffset(b));
        if (read < bytes.length) throw new Error(`${this.dataPath}: short read at block ${b}`);
        this.deinterleave(view, plan.samplesPerBlock);
        const t0Ms = await pacer.due(plan.fileMs(b), signal);
        this.emit(sink, t0Ms, plan.samplesPerBlock);
      }
    } catch (err) {
      if (!signal.aborted) this.counters.error = (err as Error).message;
    } finally {
      this.counters.finished = true;
      await file.close();
    }
  }

  private deinterleave(view: DataView, n: number): void {
    const nc = this.channels.length;
    for (let c = 0; c < nc; c++) {
      const out = this.buffers[c]!;
      for (let i = 0; i < n; i++) out[i] = view.getFloat32((i * nc + c) * 4, true);
    }
  }

  private emit(sink: SampleSink, t0Ms: number, n: number): void {
    this.channels.forEach((ch, c) => {
      const block = { channel: ch.name, t0Ms, sampleRateHz: ch.sampleRateHz, values: this.buffers[c]!, length: n };
      if (safeSink(sink, block)) this.counters.samples += n;
      else this.counters.sinkErrors++;
    });
    this.counters.blocks++;
  }

  private samplesPerBlock(): number {
    const s = this.sidecar.shape;
    return s.length === 3
      ? s[1]
      : (this.config.blockSamples ?? Math.max(1, Math.round(this.sidecar.sampling_rate_hz / 10)));
  }

  private plan(): Plan {
    const s = this.sidecar.shape;
    const nc = this.channels.length;
    const per = this.samplesPerBlock();
    if (s.length === 3) {
      const from = this.config.fromSnapshot;
      const count = Math.max(0, Math.min(s[0] - from, this.config.maxSnapshots ?? Number.POSITIVE_INFINITY));
      const times = (this.sidecar.snapshots ?? []).map((x) => parseTimestamp(x.timestamp));
      return {
        count,
        samplesPerBlock: per,
        byteOffset: (b) => (from + b) * per * nc * 4,
        fileMs: (b) => {
          const t = times[from + b];
          return t?.ok ? t.value : (from + b) * per * (1000 / this.sidecar.sampling_rate_hz);
        },
      };
    }
    const first = this.sidecar.snapshot_timestamp ? parseTimestamp(this.sidecar.snapshot_timestamp) : undefined;
    const t0 = this.config.startTimeMs ?? (first?.ok ? first.value : this.deps.clock.now());
    return {
      count: Math.floor(s[0] / per),
      samplesPerBlock: per,
      byteOffset: (b) => b * per * nc * 4,
      fileMs: (b) => t0 + (b * per * 1000) / this.sidecar.sampling_rate_hz,
    };
  }
}

function checkSidecar(path: string, sc: F32Sidecar): void {
  const nc = sc.shape[sc.shape.length - 1]!;
  if (nc !== sc.channels.length) throw invalid(path, `shape has ${nc} channels but ${sc.channels.length} are named`);
  if (sc.shape.length === 3 && sc.snapshots && sc.snapshots.length !== sc.shape[0]) {
    throw invalid(path, `shape has ${sc.shape[0]} snapshots but the snapshots list has ${sc.snapshots.length}`);
  }
  const bad = (sc.snapshots ?? []).findIndex((x) => !parseTimestamp(x.timestamp).ok);
  if (bad >= 0) throw invalid(path, `snapshots[${bad}].timestamp is not a valid date`);
}

function invalid(path: string, reason: string): MillwrightError {
  return new MillwrightError(ErrorCode.INVALID, `${path}: ${reason}`, { path });
}
