import { describe, expect, it } from 'vitest';
import { compressTime, parseArtifact, serializeArtifact } from './artifact.js';
import { defaultArtifact, defaultIndicatorConfig } from './defaults.js';
import { PRONOSTIA } from './geometry.js';

const ARTIFACT = {
  ...defaultArtifact({
    channels: ['horizontal_acc', 'vertical_acc'],
    shaftHz: 25,
    indicators: defaultIndicatorConfig(25_600, 2560, PRONOSTIA),
  }),
  window: { length: 2560, everyS: 10 },
};

describe('compressTime', () => {
  it('states the time constants in replay time and leaves counts alone', () => {
    const fast = compressTime(ARTIFACT, 40);
    expect(fast.commissioning).toEqual({ ...ARTIFACT.commissioning, durationS: 15 });
    expect(fast.window).toEqual({ length: 2560, everyS: 0.25 });
    expect(fast.alarm).toEqual({ k: 3, n: 3, holdOffS: 45 });
    expect({ ...fast, commissioning: 0, window: 0, alarm: 0 }).toEqual({
      ...ARTIFACT,
      commissioning: 0,
      window: 0,
      alarm: 0,
    });
    // Still a valid artifact for the agent.
    expect(parseArtifact(serializeArtifact(fast))).toEqual(fast);
  });

  it('refuses a factor that is not a positive number', () => {
    expect(() => compressTime(ARTIFACT, 0)).toThrow(RangeError);
    expect(() => compressTime(ARTIFACT, Number.NaN)).toThrow(RangeError);
  });
});
