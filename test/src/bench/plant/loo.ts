import type { AgentConfig } from '@millwright/edge-agent/config.js';
import type { BearingHealthArtifact } from '@millwright/edge-agent/pack/bearing/artifact.js';
import { type Summary, summarize } from '@millwright/edge-agent/pack/bearing/evaluate.js';
import {
  chooseThreshold,
  evaluateArtifact,
  type ThresholdChoice,
  type ThresholdRule,
  withThreshold,
} from '@millwright/edge-agent/pack/bearing/train.js';
import type { BenchContext } from '../report.js';
import { judgeRun, type RunResult, runIndicators } from './femto.js';

/** Candidate global thresholds for the sweep and the leave-one-run-out choice. */
export const THRESHOLDS = [3, 3.5, 4, 4.5, 5, 5.5, 6, 7, 8, 9, 10, 12];

/**
 * The scoring designs a trainer may choose between: the shipped one (alarm on the highest band,
 * fused over channels) and the first pack's (every indicator of every channel, top 3).
 */
export const DESIGNS: Record<string, (a: BearingHealthArtifact) => BearingHealthArtifact> = {
  'fused-hf': (a) => a,
  'all-per-channel': (a) => {
    const { alarmIndicators: _, fuseChannels: __, ...rest } = a.scoring;
    return { ...a, scoring: { ...rest, topM: 3 } };
  },
};

interface Choice {
  design: string;
  choice: ThresholdChoice;
}

/** Best design on `runs`: most detected, fewest false alerts, then the widest plateau. */
function chooseDesign(shipped: BearingHealthArtifact, rest: readonly RunResult[], rule: ThresholdRule): Choice {
  const cap = rest.reduce((s, x) => s + x.baseline.falseAlerts, 0);
  const rows = rest.map(runIndicators);
  const choices = Object.entries(DESIGNS).map(([design, tune]) => ({
    design,
    choice: chooseThreshold(tune(shipped), rows, THRESHOLDS, cap, rule),
  }));
  const key = (c: Choice) => {
    const s = c.choice.summary;
    return [s.falseAlerts <= cap ? 1 : 0, s.detected, -s.falseAlerts, c.choice.plateau.length, s.medianLeadMin];
  };
  return choices.reduce((a, b) => (compare(key(b), key(a)) > 0 ? b : a));
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/**
 * Honesty check: for each run, the scoring design and the one global threshold are chosen on the
 * other runs (most runs detected with no more false alerts than the RMS baseline has on them), then
 * the held-out run is replayed through the agent with them. Both threshold rules are reported.
 */
export async function leaveOneRunOut(
  ctx: BenchContext,
  results: readonly RunResult[],
  config: AgentConfig,
  baselineChannel: string,
): Promise<void> {
  const base = summarize(results.map((r) => r.baseline));
  for (const rule of ['plateau-middle', 'longest-lead'] as const) {
    const held: RunResult[] = [];
    const picks: string[] = [];
    for (const [i, r] of results.entries()) {
      const c = chooseDesign(
        r.artifact,
        results.filter((_, j) => j !== i),
        rule,
      );
      picks.push(`${c.design}@${c.choice.threshold}`);
      const artifact = withThreshold(DESIGNS[c.design]!(r.artifact), c.choice.threshold);
      held.push(await judgeRun(r.run, artifact, config, baselineChannel));
    }
    const s = summarize(held.map((h) => h.pack));
    ctx.log(`leave-one-run-out, rule ${rule} (held-out run replayed through the agent): ${picks.join(', ')}`);
    for (const h of held) ctx.log(`  ${h.run.name}: lead ${fmtLead(h)}, false alerts ${h.pack.falseAlerts}`);
    ctx.log(`  ${fmtSummary(s)}; lead ratio ${(s.medianLeadMin / base.medianLeadMin).toFixed(2)}`);
  }
}

function fmtLead(h: RunResult): string {
  return `${h.pack.leadMin.toFixed(1)}${h.pack.detected ? '' : ' (missed)'}`;
}

export function fmtSummary(s: Summary): string {
  return `detected ${s.detected}/${s.runs}, median lead ${s.medianLeadMin.toFixed(1)} min, false alerts ${s.falseAlerts}`;
}

/** Threshold grid of each design on the captured indicators (offline, same episode rules). */
export function sweep(ctx: BenchContext, results: readonly RunResult[]): void {
  const rows = results.map(runIndicators);
  for (const [design, tune] of Object.entries(DESIGNS)) {
    const artifact = tune(results[0]!.artifact);
    for (const threshold of THRESHOLDS) {
      const s = evaluateArtifact(withThreshold(artifact, threshold), rows).summary;
      ctx.log(`sweep ${design} threshold ${threshold}: ${fmtSummary(s)}`);
    }
  }
}
