import ModbusSerial from 'modbus-serial';
import { z } from 'zod';
import type { ChannelSpec, SampleSink, Source } from '../../domain/channel.js';
import { ErrorCode, MillwrightError } from '../../domain/errors.js';
import { ChannelSpecSchema, SingleSampleEmitter } from '../../ingest/channel-schema.js';
import type { Cancel, Clock } from '../../ingest/clock.js';
import { decodeWords } from './decode.js';
import { planReads, type ReadRange } from './plan.js';

/** One PLC value: where it lives, how it is encoded and how to scale it (`raw * scale + offset`). */
export const ModbusChannelSchema = ChannelSpecSchema.extend({
  /** Nominal rate. @default one sample per poll */
  sampleRateHz: z.number().positive().optional(),
  register: z.enum(['holding', 'input', 'coil', 'discrete']),
  /** Zero-based register or bit address. */
  address: z.number().int().min(0).max(65_535),
  /** Coils and discrete inputs are always `bool`. @default 'uint16' */
  dataType: z.enum(['int16', 'uint16', 'int32', 'uint32', 'float32', 'bool']).default('uint16'),
  /** Of 32-bit values: `big` = high word first (ABCD), `little` = low word first (CDAB). @default 'big' */
  wordOrder: z.enum(['big', 'little']).default('big'),
  /** @default 1 */
  scale: z.number().default(1),
  /** @default 0 */
  offset: z.number().default(0),
});

/** Fields of the Modbus source config (for composing config unions; apply {@link checkModbusChannels}). */
export const modbusSourceFields = {
  id: z.string().min(1),
  host: z.string().min(1),
  /** @default 502 */
  port: z.number().int().min(1).max(65_535).default(502),
  /** @default 1 */
  unitId: z.number().int().min(0).max(255).default(1),
  /** @default 1000 */
  pollIntervalMs: z.number().int().positive().default(1000),
  /** Per request and per connect attempt. @default 1000 */
  timeoutMs: z.number().int().positive().default(1000),
  /** Unused registers tolerated inside one batched read. @default 8 */
  maxGap: z.number().int().min(0).default(8),
  /** @default 500 */
  reconnectInitialMs: z.number().int().positive().default(500),
  /** @default 30000 */
  reconnectMaxMs: z.number().int().positive().default(30_000),
  channels: z.array(ModbusChannelSchema).min(1),
};

/** Rejects data types that do not fit their register kind (a float in a coil). */
export function checkModbusChannels(
  cfg: { channels: Array<{ register: string; dataType: string }> },
  ctx: z.RefinementCtx,
): void {
  cfg.channels.forEach((c, i) => {
    const bit = c.register === 'coil' || c.register === 'discrete';
    if (bit !== (c.dataType === 'bool') && !(bit && c.dataType === 'uint16')) {
      ctx.addIssue({
        code: 'custom',
        path: ['channels', i, 'dataType'],
        message: `${c.dataType} does not fit a ${c.register}`,
      });
    }
  });
}

/** Modbus TCP polling source. */
export const ModbusSourceConfigSchema = z.object(modbusSourceFields).superRefine(checkModbusChannels);

// The package is CommonJS with `module.exports.default = module.exports`; its typings describe the class as `default`.
const ModbusRTU = ModbusSerial.default;
type ModbusClient = InstanceType<typeof ModbusRTU>;

export type ModbusSourceConfig = z.input<typeof ModbusSourceConfigSchema>;
type Config = z.output<typeof ModbusSourceConfigSchema>;

/** Counters and link state of a Modbus source. */
export interface ModbusSourceStats {
  connected: boolean;
  /** Polls that went through every read (some reads may have been refused). */
  polls: number;
  samples: number;
  errors: number;
  timeouts: number;
  reconnects: number;
  /** Samples the sink threw on. */
  sinkErrors: number;
  lastError?: string;
}

/**
 * Polls PLC registers over Modbus TCP with batched reads. Never throws from its loop: errors are
 * counted, the connection is rebuilt with exponential backoff, and a Modbus exception on one read
 * only skips the channels of that read.
 */
export class ModbusSource implements Source {
  readonly id: string;
  readonly channels: readonly ChannelSpec[];
  private readonly config: Config;
  private readonly ranges: ReadRange[];
  private readonly emitters: SingleSampleEmitter[];
  private readonly counters: ModbusSourceStats = {
    connected: false,
    polls: 0,
    samples: 0,
    errors: 0,
    timeouts: 0,
    reconnects: 0,
    sinkErrors: 0,
  };
  private client: ModbusClient | undefined;
  private sink: SampleSink | undefined;
  private timer: Cancel | undefined;
  private cycle: Promise<void> | undefined;
  private backoffMs: number;
  private everConnected = false;

  constructor(
    config: ModbusSourceConfig,
    private readonly deps: { clock: Clock },
  ) {
    this.config = ModbusSourceConfigSchema.parse(config);
    this.id = this.config.id;
    const rate = 1000 / this.config.pollIntervalMs;
    this.channels = this.config.channels.map((c) => ({
      name: c.name,
      unit: c.unit,
      sampleRateHz: c.sampleRateHz ?? rate,
      kind: c.kind,
      asset: c.asset,
    }));
    const planned = this.config.channels.map((c) => ({
      ...c,
      dataType: c.register === 'coil' || c.register === 'discrete' ? ('bool' as const) : c.dataType,
    }));
    this.ranges = planReads(planned, this.config.maxGap);
    this.emitters = this.channels.map(() => new SingleSampleEmitter());
    this.backoffMs = this.config.reconnectInitialMs;
  }

  /** Starts polling at once (the first connect happens in the background). */
  async start(sink: SampleSink): Promise<void> {
    if (this.sink)
      throw new MillwrightError(ErrorCode.PRECONDITION, `source ${this.id} already started`, { source: this.id });
    this.sink = sink;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.sink = undefined;
    this.timer?.();
    await this.cycle;
    this.disconnect();
  }

  stats(): ModbusSourceStats {
    return { ...this.counters };
  }

  /** The batched reads one poll makes (for diagnostics). */
  readPlan(): readonly ReadRange[] {
    return this.ranges;
  }

  private schedule(delayMs: number): void {
    this.timer = this.deps.clock.schedule(delayMs, () => {
      this.cycle = this.runCycle().catch((err: unknown) => {
        // last resort: a bug here must not stop polling for good
        this.fail(err);
        if (this.sink) this.scheduleReconnect();
      });
    });
  }

  private async runCycle(): Promise<void> {
    if (!this.sink) return;
    const startedMs = this.deps.clock.now();
    const ok = (this.client || (await this.connect())) && (await this.poll(startedMs));
    if (!this.sink) return;
    if (ok) this.schedule(Math.max(0, startedMs + this.config.pollIntervalMs - this.deps.clock.now()));
    else this.scheduleReconnect();
  }

  private async connect(): Promise<boolean> {
    const client = new ModbusRTU();
    client.on('error', (err: unknown) => this.fail(err));
    client.on('close', () => {
      if (this.client === client) this.counters.connected = false;
    });
    try {
      await client.connectTCP(this.config.host, { port: this.config.port, timeout: this.config.timeoutMs });
    } catch (err) {
      this.fail(err);
      client.close(() => undefined);
      return false;
    }
    client.setID(this.config.unitId);
    client.setTimeout(this.config.timeoutMs);
    this.client = client;
    this.counters.connected = true;
    if (this.everConnected) this.counters.reconnects++;
    this.everConnected = true;
    this.backoffMs = this.config.reconnectInitialMs;
    return true;
  }

  /** Reads every range; false when the connection has to be rebuilt. */
  private async poll(tMs: number): Promise<boolean> {
    for (const range of this.ranges) {
      const result = await this.read(range);
      if (result === 'reconnect') return false;
      if (result) this.emitRange(range, result, tMs);
    }
    this.counters.polls++;
    return true;
  }

  private async read(range: ReadRange): Promise<ArrayLike<number> | undefined | 'reconnect'> {
    const client = this.client;
    if (!client?.isOpen) {
      this.fail(new Error(`connection to ${this.config.host}:${this.config.port} lost`));
      return 'reconnect';
    }
    try {
      const { start, count } = range;
      if (range.register === 'holding') return (await client.readHoldingRegisters(start, count)).data;
      if (range.register === 'input') return (await client.readInputRegisters(start, count)).data;
      const bits =
        range.register === 'coil'
          ? await client.readCoils(start, count)
          : await client.readDiscreteInputs(start, count);
      return bits.data.map((b: boolean) => (b ? 1 : 0));
    } catch (err) {
      this.fail(err);
      // a Modbus exception is an answer: the link is fine, only this read failed
      return isModbusException(err) ? undefined : 'reconnect';
    }
  }

  private emitRange(range: ReadRange, words: ArrayLike<number>, tMs: number): void {
    const sink = this.sink;
    if (!sink) return;
    for (const { channel, offset } of range.items) {
      const c = this.config.channels[channel]!;
      const type = range.register === 'coil' || range.register === 'discrete' ? 'bool' : c.dataType;
      const value = decodeWords(words, offset, type, c.wordOrder) * c.scale + c.offset;
      if (this.emitters[channel]!.emit(sink, this.channels[channel]!, tMs, value)) this.counters.samples++;
      else this.counters.sinkErrors++;
    }
  }

  private scheduleReconnect(): void {
    this.disconnect();
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.config.reconnectMaxMs, this.backoffMs * 2);
    this.schedule(delay);
  }

  private disconnect(): void {
    const client = this.client;
    this.client = undefined;
    this.counters.connected = false;
    client?.close(() => undefined);
  }

  private fail(err: unknown): void {
    this.counters.errors++;
    const e = err as { message?: string; errno?: string };
    if (e.errno === 'ETIMEDOUT' || /timed out/i.test(e.message ?? '')) this.counters.timeouts++;
    this.counters.lastError = e.message ?? String(err);
  }
}

function isModbusException(err: unknown): boolean {
  return typeof (err as { modbusCode?: unknown })?.modbusCode === 'number';
}
