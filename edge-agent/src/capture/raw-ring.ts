import type { ChannelSpec, SampleBlock } from '../domain/channel.js';

/** A raw window of one channel, float32 samples from `startMs`. */
export interface RawSlice {
  channel: string;
  unit: string;
  sampleRateHz: number;
  startMs: number;
  samples: Float32Array;
}

interface ChannelRing {
  spec: ChannelSpec;
  data: Float32Array;
  /** Samples written since start (the write position is written % capacity). */
  written: number;
  /** Time of the sample after the last one written. */
  endMs: number;
  rateHz: number;
}

/**
 * The last few seconds of raw samples per channel, so a captured window (or the context around an
 * operator label) can carry its waveform. Preallocated per channel; the per-block cost is one copy.
 * Times are taken from each block's start, so a gap inside the kept span shifts older samples
 * (approximate context, not a measurement).
 */
export class RawRing {
  private readonly rings = new Map<string, ChannelRing>();

  constructor(channels: readonly ChannelSpec[], seconds: number) {
    for (const c of channels) {
      const capacity = Math.max(1, Math.ceil(c.sampleRateHz * seconds));
      this.rings.set(c.name, {
        spec: c,
        data: new Float32Array(capacity),
        written: 0,
        endMs: 0,
        rateHz: c.sampleRateHz,
      });
    }
  }

  /** A ring of `seconds` per channel that starts with the most recent samples this one kept. */
  resized(seconds: number): RawRing {
    const next = new RawRing(
      [...this.rings.values()].map((r) => r.spec),
      seconds,
    );
    for (const [name, r] of this.rings) {
      const n = next.rings.get(name)!;
      const kept = Math.min(r.written, r.data.length, n.data.length);
      for (let i = 0; i < kept; i++) n.data[i] = r.data[(r.written - kept + i) % r.data.length]!;
      n.written = kept;
      n.endMs = r.endMs;
      n.rateHz = r.rateHz;
    }
    return next;
  }

  /** The source sink side: copies the block's samples in. */
  push(block: SampleBlock): void {
    const r = this.rings.get(block.channel);
    if (!r) return;
    const cap = r.data.length;
    const start = Math.max(0, block.length - cap);
    for (let i = start; i < block.length; i++) r.data[(r.written + i - start) % cap] = block.values[i]!;
    r.written += block.length - start;
    r.rateHz = block.sampleRateHz;
    r.endMs = block.t0Ms + (block.length * 1000) / block.sampleRateHz;
  }

  /** Samples of every channel of `asset` within [startMs, endMs), as far as they are still kept. */
  slice(asset: string, startMs: number, endMs: number): RawSlice[] {
    const out: RawSlice[] = [];
    for (const r of this.rings.values()) {
      if (r.spec.asset !== asset || r.written === 0) continue;
      const s = this.sliceOf(r, startMs, endMs);
      if (s) out.push(s);
    }
    return out;
  }

  private sliceOf(r: ChannelRing, startMs: number, endMs: number): RawSlice | undefined {
    const cap = r.data.length;
    const kept = Math.min(r.written, cap);
    const msPer = 1000 / r.rateHz;
    const firstKeptMs = r.endMs - kept * msPer;
    const from = Math.max(0, Math.ceil((startMs - firstKeptMs) / msPer));
    const to = Math.min(kept, Math.ceil((endMs - firstKeptMs) / msPer));
    if (to <= from) return undefined;
    const samples = new Float32Array(to - from);
    const base = r.written - kept;
    for (let i = from; i < to; i++) samples[i - from] = r.data[(base + i) % cap]!;
    return {
      channel: r.spec.name,
      unit: r.spec.unit,
      sampleRateHz: r.rateHz,
      startMs: firstKeptMs + from * msPer,
      samples,
    };
  }
}
