import { z } from 'zod';
import type { ChannelSpec, SampleBlock, SampleSink } from '../domain/channel.js';

/** Zod form of {@link ChannelSpec}, shared by every source's config. */
export const ChannelSpecSchema = z.object({
  name: z.string().min(1),
  unit: z.string().default(''),
  sampleRateHz: z.number().positive(),
  kind: z.enum(['vibration', 'process']).default('process'),
  asset: z.string().min(1),
});

/** Strips source-specific keys so only the domain shape leaves a source. */
export function toChannelSpec(c: z.output<typeof ChannelSpecSchema>): ChannelSpec {
  return { name: c.name, unit: c.unit, sampleRateHz: c.sampleRateHz, kind: c.kind, asset: c.asset };
}

/** One-sample blocks for irregular sources; reuses its array, as the sink contract allows. */
export class SingleSampleEmitter {
  private readonly values = new Float64Array(1);

  /** Hands one sample to `sink`; false when the sink threw (the source counts it and goes on). */
  emit(sink: SampleSink, ch: ChannelSpec, tMs: number, v: number): boolean {
    this.values[0] = v;
    return safeSink(sink, {
      channel: ch.name,
      t0Ms: tMs,
      sampleRateHz: ch.sampleRateHz,
      values: this.values,
      length: 1,
    });
  }
}

/** Calls `sink`, turning a throw into `false` so one bad consumer cannot kill a source's loop. */
export function safeSink(sink: SampleSink, block: SampleBlock): boolean {
  try {
    sink(block);
    return true;
  } catch {
    return false;
  }
}
