/** Sensor channels and the sample blocks sources hand to the pipeline. */

export type ChannelKind = 'vibration' | 'process';

export interface ChannelSpec {
  /** Unique within the agent, e.g. "pump1.vib_h". */
  name: string;
  /** e.g. "g", "degC", "A", "bar". */
  unit: string;
  /** Nominal rate; irregular sources (MQTT, Modbus polling) give their expected rate. */
  sampleRateHz: number;
  kind: ChannelKind;
  /** Machine/asset the channel belongs to; windows are scored per asset. */
  asset: string;
}

/**
 * A run of samples of one channel, evenly spaced from `t0Ms` by `1000 / sampleRateHz`.
 * Irregular sources send blocks of one sample with their own timestamp.
 * `values` may hold NaN/Infinity: cleaning flags them, it never rewrites raw values.
 * A block is only valid during the sink call: sources reuse their arrays.
 */
export interface SampleBlock {
  channel: string;
  t0Ms: number;
  sampleRateHz: number;
  values: Float64Array;
  /** Number of valid samples in `values` (values may be a larger reused buffer). */
  length: number;
}

export type SampleSink = (block: SampleBlock) => void;

/** A pluggable ingestion source (simulator, file replay, MQTT, Modbus TCP, ...). */
export interface Source {
  readonly id: string;
  readonly channels: readonly ChannelSpec[];
  /** Starts delivering blocks to `sink`; resolves once running. */
  start(sink: SampleSink): Promise<void>;
  /** Stops delivering; resolves when no more blocks will be delivered. */
  stop(): Promise<void>;
}

/** Per-point quality flags, a bit set kept beside each raw value. */
export const Quality = {
  OK: 0,
  NAN_OR_INF: 1 << 0,
  OUT_OF_RANGE: 1 << 1,
  SPIKE: 1 << 2,
  STUCK: 1 << 3,
  /** First point after a gap. */
  AFTER_GAP: 1 << 4,
  /** Channel suspected of calibration drift while this point was taken. */
  DRIFTING: 1 << 5,
} as const;
