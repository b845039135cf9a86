import { Record as RecordPb } from '@millwright/proto';
import { describe, expect, it } from 'vitest';
import { MillwrightError } from '../../domain/errors.js';
import type { PredictionEvent } from '../../domain/prediction.js';
import {
  alertRecord,
  cleaningRecord,
  dropRecord,
  featuresRecord,
  histogramsRecord,
  labelRecord,
  modelStatsRecord,
  predictionRecord,
  RecordClass,
  sampleRecord,
} from './records.js';

// A raw window starting at sample 7 of a 25.6 kHz block, timed by a replay at 30x.
const START = 1_795_574_542_097.6875;

function prediction(startMs: number, endMs: number): PredictionEvent {
  return {
    predictionId: 'rig-1:b:1',
    asset: 'Bearing3_1',
    model: 'bearing-pack',
    modelVersion: '1.0.0',
    score: 4.2,
    decision: 'alert',
    reasons: [],
    latencyUs: 12,
    windowStartMs: startMs,
    windowEndMs: endMs,
    inputBadFraction: 0,
  };
}

const QUALITY = {
  channel: 'p.x',
  points: 10,
  nanOrInf: 0,
  outOfRange: 0,
  spikes: 0,
  stuck: 0,
  gaps: 0,
  calibrationDrift: false,
  driftScore: 0,
};

/** What a record body of the wrong kind gets instead of its fields. */
function wrong(r: RecordPb): never {
  throw new Error(`unexpected record body ${r.body?.$case}`);
}

/**
 * Every encoder with every time it writes: `encode(t)` puts t[i] into the field the error calls
 * `fields[i]`; `wire(r)` reads those fields back in the same order; `ts` is the index of the time the
 * record's ts_ms carries.
 */
const ENCODERS: {
  name: string;
  fields: string[];
  ts: number;
  encode: (t: number[]) => Uint8Array;
  wire: (r: RecordPb) => number[];
}[] = [
  {
    name: 'prediction',
    fields: ['prediction.window_start_ms', 'prediction.window_end_ms'],
    ts: 1,
    encode: (t) => predictionRecord(prediction(t[0]!, t[1]!), RecordClass.RECORD_CLASS_ANOMALOUS),
    wire: (r) => {
      const v = r.body?.$case === 'prediction' ? r.body.value : wrong(r);
      return [v.windowStartMs, v.windowEndMs];
    },
  },
  {
    name: 'features',
    fields: ['features.window_start_ms', 'features.window_end_ms'],
    ts: 1,
    encode: (t) => featuresRecord('Bearing3_1', ['x'], Float64Array.of(1), t[0]!, t[1]!),
    wire: (r) => {
      const v = r.body?.$case === 'features' ? r.body.value : wrong(r);
      return [v.windowStartMs, v.windowEndMs];
    },
  },
  {
    name: 'alert',
    fields: ['ts_ms'],
    ts: 0,
    encode: (t) =>
      alertRecord({
        alertId: 'a',
        state: 'raised',
        asset: 'p',
        modelVersion: '1',
        score: 1,
        reasons: [],
        message: 'm',
        predictionId: 'rig-1:b:1',
        atMs: t[0]!,
      }),
    wire: (r) => [r.tsMs],
  },
  {
    name: 'label',
    fields: ['ts_ms'],
    ts: 0,
    encode: (t) => labelRecord({ predictionId: 'rig-1:b:1', kind: 'normal', note: '', operator: 'o' }, t[0]!),
    wire: (r) => [r.tsMs],
  },
  {
    name: 'cleaning',
    fields: ['cleaning.start_ms', 'cleaning.end_ms'],
    ts: 1,
    encode: (t) => cleaningRecord([QUALITY], t[0]!, t[1]!),
    wire: (r) => {
      const v = r.body?.$case === 'cleaning' ? r.body.value : wrong(r);
      return [v.startMs, v.endMs];
    },
  },
  {
    name: 'model stats',
    fields: ['model_stats.start_ms', 'model_stats.end_ms'],
    ts: 1,
    encode: (t) =>
      modelStatsRecord({
        model: 'm',
        modelVersion: '1',
        startMs: t[0]!,
        endMs: t[1]!,
        inferences: 3,
        errors: 0,
        nanOutputs: 0,
        latencyP50Us: 5,
        latencyP99Us: 9,
        alerts: 0,
        shadowVersion: '',
        shadowCompared: 0,
        shadowDisagreements: 0,
      }),
    wire: (r) => {
      const v = r.body?.$case === 'modelStats' ? r.body.value : wrong(r);
      return [v.startMs, v.endMs];
    },
  },
  {
    name: 'drops',
    fields: ['drops.start_ms', 'drops.end_ms'],
    ts: 1,
    encode: (t) => dropRecord({ TELEMETRY: { records: 2, bytes: 40 } }, 'ttl', t[0]!, t[1]!),
    wire: (r) => {
      const v = r.body?.$case === 'drops' ? r.body.value : wrong(r);
      return [v.startMs, v.endMs];
    },
  },
  {
    name: 'histograms',
    fields: ['histograms.start_ms', 'histograms.end_ms'],
    ts: 1,
    encode: (t) =>
      histogramsRecord({
        model: 'm',
        modelVersion: '1',
        startMs: t[0]!,
        endMs: t[1]!,
        windows: 2,
        features: [{ feature: 'x', counts: [1, 1] }],
      }),
    wire: (r) => {
      const v = r.body?.$case === 'histograms' ? r.body.value : wrong(r);
      return [v.startMs, v.endMs];
    },
  },
  {
    name: 'sample',
    fields: ['ts_ms', 'sample.features.window_start_ms', 'sample.features.window_end_ms', 'sample.raw[p.x].start_ms'],
    ts: 0,
    encode: (t) =>
      sampleRecord(
        {
          sampleId: 's1',
          reason: 'random',
          prediction: prediction(t[1]!, t[2]!),
          names: ['x'],
          values: [1],
          raw: [{ channel: 'p.x', unit: 'A', sampleRateHz: 25_600, startMs: t[3]!, samples: Float32Array.of(1, 2) }],
          bytes: 8,
        },
        t[0]!,
      ),
    wire: (r) => {
      const s = r.body?.$case === 'sample' ? r.body.value : wrong(r);
      return [r.tsMs, s.features!.windowStartMs, s.features!.windowEndMs, s.raw[0]!.startMs];
    },
  },
];

describe('record encoders', () => {
  describe.each(ENCODERS)('$name', ({ fields, ts, encode, wire }) => {
    it('rounds times of a fraction of a millisecond to the wire’s whole milliseconds', () => {
      const t = fields.map((_, i) => START + i * 100.25);
      const rec = RecordPb.decode(encode(t));
      expect(wire(rec)).toEqual(t.map(Math.round));
      expect(rec.tsMs).toBe(Math.round(t[ts]!));
    });

    it.each([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e300])(
      'refuses a time of %s in any field with an error naming the field',
      (bad) => {
        for (const [i, field] of fields.entries()) {
          const t = fields.map((_, k) => (k === i ? bad : START + k * 100));
          let thrown: unknown;
          try {
            encode(t);
          } catch (err) {
            thrown = err;
          }
          expect(thrown).toBeInstanceOf(MillwrightError);
          expect(thrown).toMatchObject({ code: 'INVALID', details: { field, ms: String(bad) } });
          expect((thrown as Error).message).toBe(`record time ${field} is ${bad}: not a finite time within ±2^53 ms`);
        }
      },
    );
  });
});
