import { Record as RecordPb } from '@millwright/proto';
import { describe, expect, it } from 'vitest';
import type { PredictionEvent } from '../../domain/prediction.js';
import { featuresRecord, predictionRecord, RecordClass } from './records.js';

// A raw window starting at sample 7 of a 25.6 kHz block, timed by a replay at 30x.
const START = 1_795_574_542_097.6875;
const END = START + 100;

const prediction: PredictionEvent = {
  predictionId: 'rig-1:b:1',
  asset: 'Bearing3_1',
  model: 'bearing-pack',
  modelVersion: '1.0.0',
  score: 4.2,
  decision: 'alert',
  reasons: [],
  latencyUs: 12,
  windowStartMs: START,
  windowEndMs: END,
  inputBadFraction: 0,
};

describe('record encoders', () => {
  it('encode windows timed to a fraction of a millisecond, rounded to the wire’s whole milliseconds', () => {
    const rec = RecordPb.decode(predictionRecord(prediction, RecordClass.RECORD_CLASS_ANOMALOUS));
    expect(rec.tsMs).toBe(Math.round(END));
    expect(rec.body?.$case === 'prediction' && rec.body.value).toMatchObject({
      predictionId: 'rig-1:b:1',
      windowStartMs: Math.round(START),
      windowEndMs: Math.round(END),
    });
    const f = RecordPb.decode(featuresRecord('Bearing3_1', ['x'], Float64Array.of(1), START, END));
    expect(f.body?.$case === 'features' && [f.body.value.windowStartMs, f.body.value.windowEndMs]).toEqual([
      Math.round(START),
      Math.round(END),
    ]);
  });
});
