/** Gate evaluation: pure functions from what canary and baseline agents reported to pass/fail/wait. */
import { assertNever } from '../domain/errors.js';
import { type Gate, type GateMetric, type GateResult, HIGHER_IS_BETTER } from './domain.js';

/** Summed ModelStats of a cohort over a period. */
export interface StatsTotals {
  inferences: number;
  errors: number;
  nanOutputs: number;
  alerts: number;
  /** Σ p99 × inferences, for an inference-weighted p99 (the agents report p99 per period, not histograms). */
  latencyP99Weighted: number;
  shadowCompared: number;
  shadowDisagreements: number;
}

export const EMPTY_TOTALS: StatsTotals = Object.freeze({
  inferences: 0,
  errors: 0,
  nanOutputs: 0,
  alerts: 0,
  latencyP99Weighted: 0,
  shadowCompared: 0,
  shadowDisagreements: 0,
});

export function addTotals(a: StatsTotals, b: StatsTotals): StatsTotals {
  return {
    inferences: a.inferences + b.inferences,
    errors: a.errors + b.errors,
    nanOutputs: a.nanOutputs + b.nanOutputs,
    alerts: a.alerts + b.alerts,
    latencyP99Weighted: a.latencyP99Weighted + b.latencyP99Weighted,
    shadowCompared: a.shadowCompared + b.shadowCompared,
    shadowDisagreements: a.shadowDisagreements + b.shadowDisagreements,
  };
}

/** Everything the gates of one stage look at. */
export interface StageEvidence {
  /** Agents updated so far, on the new version, since the stage started. */
  canary: StatsTotals;
  /** Target agents not updated yet (or, when none are left, the same agents before the stage). */
  baseline: StatsTotals;
  selfTestPassed: number;
  selfTestFailed: number;
  /** Cohort agents that report ACTIVE on the new version. */
  active: number;
  /** Cohort agents that count for ACTIVE_FRACTION: online ones plus any already active. */
  eligible: number;
  /** The stage runs the candidate in shadow: ACTIVE_FRACTION counts SHADOWING as active. */
  shadowStage: boolean;
  /** Online cohort agents still on their way (notified, downloading, verifying, self-testing, waiting). */
  settling: number;
  /** Members of the stages reached so far, excluded ones left out. */
  cohort: number;
}

interface Measured {
  value: number;
  baseline: number;
  samples: number;
  detail: string;
}

/** Evaluates one gate. A missing metric, a bad threshold or no data source fails closed, saying why. */
export function evaluateGate(gate: Gate, ev: StageEvidence): GateResult {
  const base = { metric: gate.metric, threshold: gate.threshold, value: 0, baselineValue: 0, samples: 0 };
  if (!gate.metric) return { ...base, outcome: 'missing', detail: 'gate names no known metric: failing closed' };
  if (!Number.isFinite(gate.threshold)) {
    return { ...base, outcome: 'missing', detail: `threshold ${gate.threshold} is not a number: failing closed` };
  }
  if (gate.metric === 'shadow_disagreement' && !ev.shadowStage) {
    return { ...base, outcome: 'missing', detail: 'shadow_disagreement on a stage without shadow: failing closed' };
  }
  const m = measure(gate.metric, ev);
  const r = { ...base, value: m.value, baselineValue: m.baseline, samples: m.samples };
  if (m.samples < Math.max(1, gate.minSamples)) {
    return {
      ...r,
      outcome: 'insufficient',
      detail: `${m.samples} of ${Math.max(1, gate.minSamples)} samples; ${m.detail}`,
    };
  }
  if (!Number.isFinite(m.value)) return { ...r, outcome: 'missing', detail: `no value: ${m.detail}` };
  const ok = HIGHER_IS_BETTER.has(gate.metric) ? m.value >= gate.threshold : m.value <= gate.threshold;
  if (!ok && gate.metric === 'active_fraction' && ev.settling > 0) {
    // A fraction still rising is progress, not failure: it fails only once every online agent settled.
    return { ...r, outcome: 'insufficient', detail: `${m.detail}; ${ev.settling} agents still updating` };
  }
  const op = HIGHER_IS_BETTER.has(gate.metric) ? '>=' : '<=';
  return {
    ...r,
    outcome: ok ? 'pass' : 'fail',
    detail: `${round(m.value)} ${ok ? '' : 'not '}${op} ${gate.threshold}; ${m.detail}`,
  };
}

function measure(metric: GateMetric, ev: StageEvidence): Measured {
  const c = ev.canary;
  switch (metric) {
    case 'self_test_pass_rate': {
      const n = ev.selfTestPassed + ev.selfTestFailed;
      return {
        value: n ? ev.selfTestPassed / n : Number.NaN,
        baseline: 0,
        samples: n,
        detail: `${ev.selfTestPassed}/${n} agents passed`,
      };
    }
    case 'error_rate':
      return {
        value: rate(c.errors + c.nanOutputs, c.inferences + c.errors),
        baseline: rate(ev.baseline.errors + ev.baseline.nanOutputs, ev.baseline.inferences + ev.baseline.errors),
        samples: c.inferences + c.errors,
        detail: `${c.errors} errors + ${c.nanOutputs} NaN in ${c.inferences + c.errors} inferences`,
      };
    case 'latency_p99_us':
      return {
        value: c.inferences ? c.latencyP99Weighted / c.inferences : Number.NaN,
        baseline: ev.baseline.inferences ? ev.baseline.latencyP99Weighted / ev.baseline.inferences : 0,
        samples: c.inferences,
        detail: `inference-weighted p99 over ${c.inferences} inferences`,
      };
    case 'anomaly_rate_delta':
      return anomalyDelta(ev);
    case 'shadow_disagreement':
      return {
        value: rate(c.shadowDisagreements, c.shadowCompared),
        baseline: 0,
        samples: c.shadowCompared,
        detail: `${c.shadowDisagreements}/${c.shadowCompared} shadow decisions differ`,
      };
    case 'active_fraction':
      return {
        value: ev.eligible ? ev.active / ev.eligible : Number.NaN,
        baseline: 0,
        samples: ev.eligible,
        detail: `${ev.active}/${ev.eligible} online cohort agents active`,
      };
    default:
      return assertNever(metric);
  }
}

/** Both sides need data: the sample count is the smaller of the two inference counts. */
function anomalyDelta(ev: StageEvidence): Measured {
  const c = rate(ev.canary.alerts, ev.canary.inferences);
  const b = rate(ev.baseline.alerts, ev.baseline.inferences);
  return {
    value: c - b,
    baseline: b,
    samples: Math.min(ev.canary.inferences, ev.baseline.inferences),
    detail: `canary ${ev.canary.alerts}/${ev.canary.inferences} alerts vs baseline ${ev.baseline.alerts}/${ev.baseline.inferences}`,
  };
}

function rate(n: number, d: number): number {
  return d > 0 ? n / d : Number.NaN;
}

function round(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toPrecision(4);
}

export type StageVerdict =
  | { kind: 'pass'; gates: GateResult[] }
  | { kind: 'fail'; gates: GateResult[]; reason: string }
  | { kind: 'insufficient'; gates: GateResult[]; reason: string };

/** Any failing or missing gate fails the stage; otherwise any insufficient one makes it wait. */
export function evaluateStage(gates: readonly Gate[], ev: StageEvidence): StageVerdict {
  const results = gates.map((g) => evaluateGate(g, ev));
  const bad = results.filter((r) => r.outcome === 'fail' || r.outcome === 'missing');
  if (bad.length > 0) return { kind: 'fail', gates: results, reason: bad.map(describe).join('; ') };
  const waiting = results.filter((r) => r.outcome === 'insufficient');
  if (waiting.length > 0) {
    const why = waiting.map(describe).join('; ');
    // Said first, as it is the cause: without agents no gate ever gets samples, the stage only times out.
    const reason = ev.cohort === 0 ? `the stage has no agents (none assigned, or all left the target): ${why}` : why;
    return { kind: 'insufficient', gates: results, reason };
  }
  return { kind: 'pass', gates: results };
}

function describe(r: GateResult): string {
  return `${r.metric ?? 'unknown metric'} ${r.outcome}: ${r.detail}`;
}
