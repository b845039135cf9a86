import { z } from 'zod';
import { checkModbusChannels, ModbusSource, modbusSourceFields } from '../adapters/modbus/modbus-source.js';
import { MqttSource, MqttSourceConfigSchema } from '../adapters/mqtt/mqtt-source.js';
import type { SampleSink, Source } from '../domain/channel.js';
import { assertNever, ConfigError } from '../domain/errors.js';
import type { Clock } from './clock.js';
import { CsvReplayConfigSchema, LineReplaySource, NdjsonReplayConfigSchema } from './replay.js';
import { F32ReplayConfigSchema, F32ReplaySource } from './replay-f32.js';
import { type SimTruthEvent, SimulatorConfigSchema, SimulatorSource } from './simulator.js';

export { acceleratedClock, type Cancel, type Clock, sleep, systemClock, VirtualClock } from './clock.js';

/** One source of the agent, chosen by `type`. */
export const SourceConfigSchema = z.discriminatedUnion('type', [
  SimulatorConfigSchema.extend({ type: z.literal('simulator') }),
  CsvReplayConfigSchema.extend({ type: z.literal('replay_csv') }),
  NdjsonReplayConfigSchema.extend({ type: z.literal('replay_ndjson') }),
  F32ReplayConfigSchema.extend({ type: z.literal('replay_f32') }),
  MqttSourceConfigSchema.extend({ type: z.literal('mqtt') }),
  z.object({ ...modbusSourceFields, type: z.literal('modbus') }).superRefine(checkModbusChannels),
]);
/** Every source of the agent; they run at once. */
export const SourcesConfigSchema = z.array(SourceConfigSchema);
export type SourceConfig = z.input<typeof SourceConfigSchema>;
type ParsedSource = z.output<typeof SourceConfigSchema>;

/** What the sources need from outside. */
export interface SourceDeps {
  clock: Clock;
  /** Ground truth of the simulators' injected faults. */
  onTruth?: (e: SimTruthEvent) => void;
  /** Replays report every skipped line here (`file:line: reason`). */
  onBadLine?: (message: string) => void;
}

/**
 * Builds every configured source (file replays check their sidecars here).
 * @throws ConfigError naming every bad key (`sources[i].key`), a repeated source id, or a channel
 *   name used twice (naming both sources)
 */
export async function createSources(config: unknown, deps: SourceDeps): Promise<Source[]> {
  const parsed = SourcesConfigSchema.safeParse(config);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map(
        (i) =>
          `sources${i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${i.message}`,
      ),
    );
  }
  checkUniqueIds(parsed.data);
  const sources = await Promise.all(parsed.data.map((c) => createSource(c, deps)));
  checkUniqueChannels(sources);
  return sources;
}

async function createSource(c: ParsedSource, deps: SourceDeps): Promise<Source> {
  switch (c.type) {
    case 'simulator':
      return new SimulatorSource(c, { clock: deps.clock, onTruth: deps.onTruth });
    case 'replay_csv':
      return LineReplaySource.csv(c, { clock: deps.clock, onBadLine: deps.onBadLine });
    case 'replay_ndjson':
      return LineReplaySource.ndjson(c, { clock: deps.clock, onBadLine: deps.onBadLine });
    case 'replay_f32':
      return F32ReplaySource.open(c, { clock: deps.clock });
    case 'mqtt':
      return new MqttSource(c, { clock: deps.clock });
    case 'modbus':
      return new ModbusSource(c, { clock: deps.clock });
    default:
      return assertNever(c);
  }
}

function checkUniqueIds(configs: ParsedSource[]): void {
  const seen = new Set<string>();
  const issues = configs
    .filter((c) => seen.size === seen.add(c.id).size)
    .map((c) => `sources: source id "${c.id}" is used twice`);
  if (issues.length > 0) throw new ConfigError(issues);
}

function checkUniqueChannels(sources: Source[]): void {
  const owner = new Map<string, string>();
  const issues: string[] = [];
  for (const s of sources) {
    for (const ch of s.channels) {
      const first = owner.get(ch.name);
      if (first !== undefined)
        issues.push(`channel "${ch.name}" is defined by both source "${first}" and source "${s.id}"`);
      else owner.set(ch.name, s.id);
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
}

/** Starts every source into `sink`; if one fails, stops those already started and rethrows. */
export async function startSources(sources: readonly Source[], sink: SampleSink): Promise<void> {
  const started: Source[] = [];
  try {
    for (const s of sources) {
      await s.start(sink);
      started.push(s);
    }
  } catch (err) {
    await stopSources(started);
    throw err;
  }
}

/** Stops every source, all at once; never throws. */
export async function stopSources(sources: readonly Source[]): Promise<void> {
  await Promise.allSettled(sources.map((s) => s.stop()));
}
