import { describe, expect, it } from 'vitest';
import type { Gate } from './domain.js';
import { EMPTY_TOTALS, evaluateGate, evaluateStage, type StageEvidence } from './gates.js';

function evidence(over: Partial<StageEvidence> = {}): StageEvidence {
  return {
    canary: { ...EMPTY_TOTALS, inferences: 1000, alerts: 10, errors: 1, latencyP99Weighted: 1000 * 80 },
    baseline: { ...EMPTY_TOTALS, inferences: 2000, alerts: 20, latencyP99Weighted: 2000 * 70 },
    selfTestPassed: 4,
    selfTestFailed: 0,
    active: 4,
    eligible: 4,
    shadowStage: false,
    settling: 0,
    cohort: 4,
    ...over,
  };
}

const gate = (metric: Gate['metric'], threshold: number, minSamples = 100): Gate => ({ metric, threshold, minSamples });

describe('gate evaluation', () => {
  it('passes an anomaly-rate delta within the threshold, against the baseline over the same period', () => {
    const r = evaluateGate(gate('anomaly_rate_delta', 0.05), evidence());
    expect(r).toMatchObject({ outcome: 'pass', value: 0, baselineValue: 0.01, samples: 1000 });
  });

  it('fails when the canary alerts on every window while the baseline does not', () => {
    const ev = evidence({ canary: { ...EMPTY_TOTALS, inferences: 500, alerts: 500 } });
    const r = evaluateGate(gate('anomaly_rate_delta', 0.05), ev);
    expect(r.outcome).toBe('fail');
    expect(r.value).toBeCloseTo(0.99);
  });

  it('waits with insufficient samples instead of deciding', () => {
    const ev = evidence({ canary: { ...EMPTY_TOTALS, inferences: 20, alerts: 20 } });
    expect(evaluateGate(gate('anomaly_rate_delta', 0.05), ev).outcome).toBe('insufficient');
    expect(evaluateGate(gate('error_rate', 0.01, 50), ev).outcome).toBe('insufficient');
  });

  it('fails closed when the metric is missing or misconfigured, saying why', () => {
    const missing = evaluateGate(gate(undefined, 0.1), evidence());
    expect(missing).toMatchObject({ outcome: 'missing' });
    expect(missing.detail).toMatch(/failing closed/);
    expect(evaluateGate(gate('error_rate', Number.NaN), evidence()).outcome).toBe('missing');
    expect(evaluateGate(gate('shadow_disagreement', 0.1), evidence()).detail).toMatch(/without shadow/);
  });

  it('judges error rate, p99, self-test pass rate and active fraction in their directions', () => {
    expect(evaluateGate(gate('error_rate', 0.01), evidence()).outcome).toBe('pass');
    expect(evaluateGate(gate('latency_p99_us', 50), evidence()).outcome).toBe('fail');
    expect(evaluateGate(gate('latency_p99_us', 100), evidence()).value).toBe(80);
    const someFailed = evidence({ selfTestPassed: 3, selfTestFailed: 1 });
    expect(evaluateGate(gate('self_test_pass_rate', 1, 1), someFailed).outcome).toBe('fail');
    expect(evaluateGate(gate('active_fraction', 0.75, 1), evidence({ active: 3 })).outcome).toBe('pass');
    expect(evaluateGate(gate('active_fraction', 0.9, 1), evidence({ active: 3 })).outcome).toBe('fail');
  });

  it('treats a low active fraction as progress while online agents are still updating', () => {
    const r = evaluateGate(gate('active_fraction', 1, 1), evidence({ active: 1, settling: 3 }));
    expect(r.outcome).toBe('insufficient');
    expect(r.detail).toMatch(/3 agents still updating/);
  });

  it('fails a stage on any failing gate, waits on insufficient ones, passes otherwise', () => {
    const ok = [gate('error_rate', 0.01), gate('active_fraction', 1, 1)];
    expect(evaluateStage(ok, evidence()).kind).toBe('pass');
    expect(evaluateStage([...ok, gate('error_rate', 0.01, 10_000)], evidence()).kind).toBe('insufficient');
    const failing = evaluateStage([...ok, gate('latency_p99_us', 10), gate('error_rate', 0.01, 10_000)], evidence());
    expect(failing.kind).toBe('fail');
    expect(evaluateStage([], evidence()).kind).toBe('pass');
  });

  it('says a stage without agents waits because it has none, not only which gates lack samples', () => {
    const none = evidence({
      canary: EMPTY_TOTALS,
      selfTestPassed: 0,
      active: 0,
      eligible: 0,
      cohort: 0,
    });
    const v = evaluateStage([gate('self_test_pass_rate', 1, 1), gate('error_rate', 0.01)], none);
    expect(v.kind).toBe('insufficient');
    if (v.kind !== 'insufficient') return;
    expect(v.reason).toMatch(/^the stage has no agents .*: self_test_pass_rate insufficient: 0 of 1 samples/);
    const some = evaluateStage([gate('error_rate', 0.01, 10_000)], evidence());
    expect(some.kind === 'insufficient' && some.reason).toMatch(/^error_rate insufficient/);
  });
});
