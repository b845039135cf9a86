/**
 * Plant-value evaluation of the rotating-machinery pack on real bearing data (docs/PLANT-EVALUATION.md).
 *
 * Every run-to-failure recording is replayed through the agent's real data path, as live:
 *   F32ReplaySource (asap, original timestamps) -> EdgePipeline (default cleaning) -> bearing model
 *   (runtime registry, from artifact + manifest files) -> AlertManager episodes
 * The model commissions on the run's first 10 minutes only. The RMS mean + 3 sigma baseline
 * runs in the same replay on the same cleaned windows. Args: --data DIR (runs), --cwru DIR,
 * --plots DIR, --sweep (threshold grid), --baseline-channel NAME (default vertical_acc), --no-loo.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentConfigSchema } from '@millwright/edge-agent/config.js';
import { type RunOutcome, summarize } from '@millwright/edge-agent/pack/bearing/evaluate.js';
import { evaluateArtifact } from '@millwright/edge-agent/pack/bearing/train.js';
import { emitCwru } from '../plant/cwru.js';
import { judgeRun, packArtifact, type RunResult, runIndicators } from '../plant/femto.js';
import { leaveOneRunOut, sweep } from '../plant/loo.js';
import { writePlots } from '../plant/plots.js';
import { listRuns } from '../plant/runs.js';
import type { BenchContext } from '../report.js';

interface Args {
  data: string;
  cwru: string | null;
  plots: string | null;
  sweep: boolean;
  loo: boolean;
  baselineChannel: string;
}

export async function run(ctx: BenchContext): Promise<void> {
  const args = parseArgs(ctx.args);
  const runs = listRuns(args.data);
  // The agent's production defaults (cleaning, alert policy); ids are placeholders.
  const config = AgentConfigSchema.parse({ agentId: 'plant-bench', siteId: 'plant-bench' });
  ctx.log(`replaying ${runs.length} runs from ${args.data} through the agent pipeline`);
  const results: RunResult[] = [];
  for (const r of runs) results.push(await judgeRun(r, packArtifact(r), config, args.baselineChannel));
  printTable(ctx, results);
  emitFemto(ctx, results);
  checkOfflineAgrees(ctx, results);
  if (args.loo && results.length >= 3) await leaveOneRunOut(ctx, results, config, args.baselineChannel);
  if (args.sweep) sweep(ctx, results);
  if (args.plots) writePlots(args.plots, results);
  if (args.cwru) emitCwru(ctx, args.cwru);
}

function parseArgs(argv: string[]): Args {
  const get = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const bearings = resolve(repoRoot(), '..', 'shared', 'data', 'bearings');
  const data = get('--data');
  if (!data && !existsSync(join(bearings, 'femto'))) {
    throw new Error(`bearing data not found at ${bearings}; pass --data DIR (a folder of FEMTO-format runs)`);
  }
  const cwru = get('--cwru') ?? (data ? null : join(bearings, 'cwru'));
  return {
    data: resolve(data ?? join(bearings, 'femto')),
    cwru: cwru && existsSync(cwru) ? cwru : null,
    plots: get('--plots') ?? null,
    sweep: argv.includes('--sweep'),
    loo: !argv.includes('--no-loo'),
    baselineChannel: get('--baseline-channel') ?? 'vertical_acc',
  };
}

/** The repo root is the nearest ancestor of this module holding pnpm-workspace.yaml. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'pnpm-workspace.yaml'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root (pnpm-workspace.yaml)');
    dir = up;
  }
  return dir;
}

function fmtAlert(o: RunOutcome, startMs: number): string {
  return o.firstAlertMs === null ? 'never' : `${((o.firstAlertMs - startMs) / 60_000).toFixed(1)} min`;
}

function fmtLead(o: RunOutcome): string {
  return `${o.leadMin.toFixed(1)}${o.detected ? '' : ' (missed)'}`;
}

function printTable(ctx: BenchContext, results: readonly RunResult[]): void {
  ctx.log(
    '| run | life (min) | windows | pack first alert | pack lead (min) | pack false alerts | pack episodes | RMS first alert | RMS lead (min) | RMS false alerts | first reasons |',
  );
  ctx.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const life = (r.run.failureMs - r.run.startMs) / 60_000;
    const { pack: p, baseline: b } = r;
    const why = r.trace.firstReasons.map((x) => x.text).join('; ');
    ctx.log(
      `| ${r.run.name} | ${life.toFixed(0)} | ${r.trace.tMs.length} | ${fmtAlert(p, r.run.startMs)} | ${fmtLead(p)} | ${p.falseAlerts} | ${p.episodes} | ${fmtAlert(b, r.run.startMs)} | ${fmtLead(b)} | ${b.falseAlerts} | ${why} |`,
    );
  }
}

function emitFemto(ctx: BenchContext, results: readonly RunResult[]): void {
  const pack = summarize(results.map((r) => r.pack));
  const base = summarize(results.map((r) => r.baseline));
  ctx.emit({
    metric: 'plant.femto.detected_runs',
    value: pack.detected,
    unit: `runs of ${pack.runs}`,
    baseline: 'rms_3sigma',
    baseline_value: base.detected,
  });
  ctx.emit({
    metric: 'plant.femto.median_lead_min',
    value: pack.medianLeadMin,
    unit: 'min',
    baseline: 'rms_3sigma',
    baseline_value: base.medianLeadMin,
  });
  ctx.emit({
    metric: 'plant.femto.lead_ratio',
    value: pack.medianLeadMin / base.medianLeadMin,
    unit: 'ratio',
    // The baseline's median lead over itself.
    baseline: 'rms_3sigma',
    baseline_value: 1,
  });
  ctx.emit({
    metric: 'plant.femto.false_alerts',
    value: pack.falseAlerts,
    unit: 'episodes',
    baseline: 'rms_3sigma',
    baseline_value: base.falseAlerts,
  });
  ctx.emit({ metric: 'plant.femto.baseline_false_alerts', value: base.falseAlerts, unit: 'episodes' });
}

/**
 * The sweep and the leave-one-run-out choice re-score captured indicator rows offline; this checks
 * that doing so reproduces the agent's own outcome for the shipped artifact, run by run.
 */
function checkOfflineAgrees(ctx: BenchContext, results: readonly RunResult[]): void {
  const differs = results.filter((r) => {
    const o = evaluateArtifact(r.artifact, [runIndicators(r)]).outcomes[0]!;
    return o.firstAlertMs !== r.pack.firstAlertMs || o.falseAlerts !== r.pack.falseAlerts;
  });
  ctx.log(
    differs.length === 0
      ? 'offline re-scoring of the captured indicators reproduces the pipeline outcome on every run'
      : `offline re-scoring DIFFERS from the pipeline on ${differs.map((r) => r.run.name).join(', ')}`,
  );
}
