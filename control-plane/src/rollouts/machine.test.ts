import { describe, expect, it } from 'vitest';
import type { Rollout } from './domain.js';
import type { StageVerdict } from './gates.js';
import { decideStage } from './machine.js';

const T0 = 1_700_000_000_000;

function rollout(currentStage = 0): Rollout {
  const stage = (name: string, percent: number, bakeS: number) => ({
    name,
    percent,
    bakeS,
    gates: [],
    shadow: false,
    timeoutS: 600,
  });
  return {
    id: 'r1',
    spec: {
      model: 'm',
      version: '2',
      target: { siteIds: [], labels: {}, excludeAgentIds: [] },
      stages: [stage('canary', 5, 60), stage('full', 100, 0)],
      failureAction: 'rollback',
      maxParallelPerSite: 0,
      switchCondition: '',
      force: false,
      reason: '',
      config: undefined,
      promoteAlias: 'production',
    },
    status: 'running',
    statusReason: '',
    currentStage,
    stageStartedAtMs: T0,
    previousVersion: '1',
    targetSize: 10,
    createdBy: 'me',
    createdAtMs: T0,
    updatedAtMs: T0,
  };
}

const pass: StageVerdict = { kind: 'pass', gates: [] };
const fail: StageVerdict = { kind: 'fail', gates: [], reason: 'anomaly_rate_delta fail' };
const wait: StageVerdict = { kind: 'insufficient', gates: [], reason: 'need samples' };

describe('stage machine (injected clock)', () => {
  it('bakes before advancing even when the gates pass', () => {
    expect(decideStage(rollout(), T0 + 59_000, pass).kind).toBe('wait');
    expect(decideStage(rollout(), T0 + 60_000, pass)).toMatchObject({ kind: 'advance', to: 1 });
  });

  it('acts on a failing gate at once, without waiting for the bake', () => {
    expect(decideStage(rollout(), T0 + 1_000, fail)).toMatchObject({ kind: 'fail', reason: 'anomaly_rate_delta fail' });
  });

  it('waits on insufficient data, then times out with the reason', () => {
    expect(decideStage(rollout(), T0 + 120_000, wait).kind).toBe('wait');
    const t = decideStage(rollout(), T0 + 600_000, wait);
    expect(t.kind).toBe('timeout');
    expect(t.kind === 'timeout' && t.reason).toMatch(/timed out after 600 s .*need samples/);
  });

  it('succeeds once the last stage passes', () => {
    expect(decideStage(rollout(1), T0, pass).kind).toBe('succeed');
  });
});
