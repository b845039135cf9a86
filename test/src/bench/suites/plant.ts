/**
 * Plant-value evaluation of the rotating-machinery pack on real bearing data (docs/PLANT-EVALUATION.md).
 *
 * Every FEMTO-format run is replayed snapshot by snapshot in time order, as live:
 *   replay (file source) -> [cleaning: BearingPipeline.accept] -> indicators -> model -> k-of-n alarm
 * The model commissions on the run's first 10 minutes only. In the same replay the RMS
 * mean+3 sigma baseline runs on the same windows. Args: --data DIR (runs), --cwru DIR, --plots DIR,
 * --sweep (prints the hyperparameter grid used to choose the shipped defaults).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BearingHealthArtifact } from '@millwright/edge-agent/pack/bearing/artifact.js';
import { defaultArtifact, defaultIndicatorConfig } from '@millwright/edge-agent/pack/bearing/defaults.js';
import {
  RmsSigmaBaseline,
  type RunOutcome,
  scoreRun,
  summarize,
} from '@millwright/edge-agent/pack/bearing/evaluate.js';
import { PRONOSTIA, SKF_6205 } from '@millwright/edge-agent/pack/bearing/geometry.js';
import { IndicatorExtractor } from '@millwright/edge-agent/pack/bearing/indicators.js';
import { BearingHealthModel } from '@millwright/edge-agent/pack/bearing/model.js';
import { type RecordedRun, readRecording, readRunDirectory } from '@millwright/edge-agent/pack/bearing/replay.js';
import {
  computeRunIndicators,
  leaveOneRunOut,
  manifestFor,
  type RunIndicators,
  replayRun,
} from '@millwright/edge-agent/pack/bearing/train.js';
import type { BenchContext } from '../report.js';

const COMMISSIONING_S = 600;

interface Args {
  data: string;
  cwru: string | null;
  plots: string | null;
  sweep: boolean;
  baselineChannel: string;
}

export async function run(ctx: BenchContext): Promise<void> {
  const args = parseArgs(ctx.args);
  const runs = readRunDirectory(args.data);
  ctx.log(`replaying ${runs.length} runs from ${args.data}`);
  const evals = runs.map((r) => evaluateRun(r, args.baselineChannel));
  printTable(ctx, evals);
  emitFemto(ctx, evals);
  printLeaveOneOut(ctx, evals);
  if (args.sweep) sweep(ctx, evals);
  if (args.plots) writePlots(args.plots, evals);
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

export function femtoArtifact(r: RecordedRun): BearingHealthArtifact {
  return defaultArtifact({
    channels: r.channels,
    shaftHz: r.shaftHz,
    indicators: defaultIndicatorConfig(r.sampleRateHz, r.samplesPerSnapshot, PRONOSTIA),
  });
}

interface RunEval {
  run: RecordedRun;
  artifact: BearingHealthArtifact;
  indicators: RunIndicators;
  scores: number[];
  pack: RunOutcome;
  baseline: RunOutcome;
  baselineRms: number[];
}

function evaluateRun(run: RecordedRun, baselineChannel: string): RunEval {
  const artifact = femtoArtifact(run);
  const indicators = computeRunIndicators(run, artifact);
  const timeline = replayRun(artifact, indicators);
  const perChannel = indicators.rows[0]!.length / run.channels.length;
  const ch = Math.max(0, run.channels.indexOf(baselineChannel));
  const baselineRms = indicators.rows.map((row) => row[ch * perChannel]!);
  const detector = new RmsSigmaBaseline(COMMISSIONING_S * 1000);
  const active = baselineRms.map((rms, i) => detector.update(rms, run.tMs[i]!, run.tMs[0]!));
  return {
    run,
    artifact,
    indicators,
    scores: timeline.scores,
    pack: scoreRun(timeline),
    baseline: scoreRun({ ...timeline, active }),
    baselineRms,
  };
}

function fmtAlert(o: RunOutcome, startMs: number): string {
  return o.firstAlertMs === null ? 'never' : `${((o.firstAlertMs - startMs) / 60_000).toFixed(1)} min`;
}

function printTable(ctx: BenchContext, evals: readonly RunEval[]): void {
  ctx.log(
    '| run | life (min) | pack first alert | pack lead (min) | pack false alerts | RMS first alert | RMS lead (min) | RMS false alerts |',
  );
  ctx.log('|---|---|---|---|---|---|---|---|');
  for (const e of evals) {
    const life = (e.run.failureMs - e.run.startMs) / 60_000;
    const p = e.pack;
    const b = e.baseline;
    ctx.log(
      `| ${e.run.name} | ${life.toFixed(0)} | ${fmtAlert(p, e.run.startMs)} | ${p.leadMin.toFixed(1)}${p.detected ? '' : ' (missed)'} | ${p.falseAlerts} | ${fmtAlert(b, e.run.startMs)} | ${b.leadMin.toFixed(1)}${b.detected ? '' : ' (missed)'} | ${b.falseAlerts} |`,
    );
  }
}

function emitFemto(ctx: BenchContext, evals: readonly RunEval[]): void {
  const pack = summarize(evals.map((e) => e.pack));
  const base = summarize(evals.map((e) => e.baseline));
  ctx.emit({
    metric: 'plant.femto.detected_runs',
    value: pack.detected,
    unit: `runs of ${pack.runs}`,
    baseline: 'rms_3sigma',
    baseline_value: base.detected,
  });
  ctx.emit({ metric: 'plant.femto.median_lead_min', value: pack.medianLeadMin, unit: 'min' });
  ctx.emit({
    metric: 'plant.femto.lead_ratio',
    value: pack.medianLeadMin / base.medianLeadMin,
    unit: 'ratio',
    baseline: 'rms_3sigma',
    baseline_value: base.medianLeadMin,
  });
  ctx.emit({ metric: 'plant.femto.false_alerts', value: pack.falseAlerts, unit: 'episodes' });
  ctx.emit({ metric: 'plant.femto.baseline_false_alerts', value: base.falseAlerts, unit: 'episodes' });
}

const THRESHOLDS = [2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6, 7, 8, 10];

/** Honesty check: threshold chosen on the other runs (at most one false alert per run), scored on the held-out one. */
function printLeaveOneOut(ctx: BenchContext, evals: readonly RunEval[]): void {
  if (evals.length < 3) return;
  const loo = leaveOneRunOut(
    evals[0]!.artifact,
    evals.map((e) => e.indicators),
    THRESHOLDS,
    0.34,
  );
  const s = summarize(loo.outcomes);
  ctx.log(
    `leave-one-run-out threshold choice: thresholds ${loo.thresholds.join(', ')}; detected ${s.detected}/${s.runs}, median lead ${s.medianLeadMin.toFixed(1)} min, false alerts ${s.falseAlerts}`,
  );
}

function sweep(ctx: BenchContext, evals: readonly RunEval[]): void {
  for (const minLogScale of [0.1, 0.15, 0.2, 0.3]) {
    for (const topM of [1, 2, 3, 4]) {
      const cells = THRESHOLDS.map((threshold) => {
        const outs = evals.map((e) =>
          scoreRun(
            replayRun(
              { ...e.artifact, scoring: { ...e.artifact.scoring, minLogScale, topM, threshold } },
              e.indicators,
            ),
          ),
        );
        const s = summarize(outs);
        return `${threshold}:${s.detected}/${s.falseAlerts}/${s.medianLeadMin.toFixed(0)}`;
      });
      ctx.log(`sweep floor=${minLogScale} topM=${topM} ${cells.join(' ')}`);
    }
  }
}

const CWRU_EXCLUDED = ['OR014at6', 'B007', 'IR028', 'B021'];
const LABEL_TO_FEATURE: Record<string, string> = { inner_race: 'env_bpfi', outer_race: 'env_bpfo', ball: 'env_bsf' };

/** Top reason per CWRU fault file, with the model commissioned on the normal recording at the same rate. */
function emitCwru(ctx: BenchContext, dir: string): void {
  ctx.log(
    `CWRU: excluding ${CWRU_EXCLUDED.join(', ')} (no clear line at their labelled frequency, per the data README)`,
  );
  const stems = [
    'B007',
    'B014',
    'B021',
    'B028',
    'IR007',
    'IR014',
    'IR021',
    'IR028',
    'OR007at6',
    'OR014at6',
    'OR021at6',
  ];
  const files = stems.flatMap((s) => [`cwru_0hp_${s}_DE12k`, `cwru_0hp_${s}_DE48k`]);
  let hits = 0;
  let total = 0;
  for (const stem of files) {
    if (!existsSync(join(dir, `${stem}.json`)) || CWRU_EXCLUDED.some((x) => stem.includes(`_${x}_`))) continue;
    const top = cwruTopReason(dir, stem);
    const rec = readRecording(dir, stem);
    const wanted = Object.entries(LABEL_TO_FEATURE).find(([label]) => rec.label.startsWith(label))?.[1];
    const hit = top === `drive_end_acc.${wanted}`;
    ctx.log(`  ${stem} (${rec.label}): top reason ${top}${hit ? '' : '  <- miss'}`);
    hits += hit ? 1 : 0;
    total++;
  }
  ctx.emit({
    metric: 'plant.cwru.reason_hits',
    value: total ? hits / total : Number.NaN,
    unit: `fraction of ${total} files`,
  });
}

function cwruTopReason(dir: string, stem: string): string {
  const rec = readRecording(dir, stem);
  const normal = readRecording(
    dir,
    rec.sampleRateHz === 12000 ? 'cwru_0hp_normal_12k_decimated' : 'cwru_0hp_normal_48k',
  );
  const win = rec.sampleRateHz === 12000 ? 4096 : 16384;
  const artifact = defaultArtifact({
    channels: ['drive_end_acc'],
    shaftHz: rec.shaftHz,
    indicators: defaultIndicatorConfig(rec.sampleRateHz, win, SKF_6205),
  });
  const normalWindows = windows(normal.data, normal.channels.length, win);
  artifact.commissioning = { durationS: normalWindows.length, minWindows: 5, maxWindows: 1024 };
  const model = new BearingHealthModel(manifestFor(artifact), artifact);
  const ext = new IndicatorExtractor(artifact.indicators);
  const row = new Float64Array(ext.count);
  let t = 0;
  for (const w of normalWindows) {
    ext.compute(normal.data, w, normal.channels.length, win, rec.shaftHz, row);
    model.scoreAt(row, t++ * 1000, 0);
  }
  const votes = new Map<string, number>();
  for (const w of windows(rec.data, rec.channels.length, win)) {
    ext.compute(rec.data, w, rec.channels.length, win, rec.shaftHz, row);
    const top = model.scoreAt(row, (t++ + 1) * 1000, 1).reasons[0]?.feature ?? 'none';
    votes.set(top, (votes.get(top) ?? 0) + 1);
  }
  return [...votes.entries()].sort((a, b) => b[1] - a[1])[0]![0];
}

/** Offsets (in the interleaved array) of half-overlapping windows on channel 0. */
function windows(data: Float32Array, nch: number, win: number): number[] {
  const out: number[] = [];
  for (let s = 0; s + win <= data.length / nch; s += win / 2) out.push(s * nch);
  return out;
}

/** One SVG per run: pack score and RMS ratio against minutes to failure, with alert markers. */
function writePlots(dir: string, evals: readonly RunEval[]): void {
  mkdirSync(dir, { recursive: true });
  for (const e of evals) writeFileSync(join(dir, `plant-${e.run.name}.svg`), plotRun(e));
}

const W = 720;
const H = 300;
const PAD = { l: 56, r: 16, t: 28, b: 40 };

function plotRun(e: RunEval): string {
  const { run } = e;
  const lifeMin = (run.failureMs - run.startMs) / 60_000;
  const ttf = run.tMs.map((t) => (run.failureMs - t) / 60_000);
  const x = (m: number) => PAD.l + ((lifeMin - m) / lifeMin) * (W - PAD.l - PAD.r);
  const y = (v: number) => {
    const l = Math.log10(Math.min(1000, Math.max(0.1, v)));
    return PAD.t + ((3 - l) / 4) * (H - PAD.t - PAD.b);
  };
  const n0 = e.baselineRms.filter((_, i) => run.tMs[i]! - run.tMs[0]! <= COMMISSIONING_S * 1000);
  const rmsRef = n0.reduce((a, b) => a + b, 0) / n0.length;
  const path = (vals: number[]) =>
    vals
      .map((v, i) => `${i ? 'L' : 'M'}${x(ttf[i]!).toFixed(1)},${y(Number.isFinite(v) ? v : 0.1).toFixed(1)}`)
      .join('');
  const vline = (m: number, color: string, dash: string) =>
    `<line x1="${x(m).toFixed(1)}" x2="${x(m).toFixed(1)}" y1="${PAD.t}" y2="${H - PAD.b}" stroke="${color}" stroke-dasharray="${dash}"/>`;
  const alertAt = (o: RunOutcome) => (o.firstAlertMs === null ? null : (run.failureMs - o.firstAlertMs) / 60_000);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<rect x="${x(lifeMin)}" y="${PAD.t}" width="${(x(lifeMin - COMMISSIONING_S / 60) - x(lifeMin)).toFixed(1)}" height="${H - PAD.t - PAD.b}" fill="#eef"/>`,
    ...[0.1, 1, 10, 100, 1000].map(
      (v) =>
        `<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${PAD.l - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`,
    ),
    ...ticks(lifeMin).map((m) => `<text x="${x(m).toFixed(1)}" y="${H - PAD.b + 16}" text-anchor="middle">${m}</text>`),
    `<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${y(e.artifact.scoring.threshold)}" y2="${y(e.artifact.scoring.threshold)}" stroke="#c00" stroke-dasharray="4 3"/>`,
    vline(lifeMin / 2, '#999', '2 2'),
    vline(10, '#999', '2 2'),
    `<path d="${path(e.baselineRms.map((v) => v / rmsRef))}" fill="none" stroke="#888" stroke-width="1"/>`,
    `<path d="${path(e.scores)}" fill="none" stroke="#036" stroke-width="1.3"/>`,
  ];
  const pa = alertAt(e.pack);
  const ba = alertAt(e.baseline);
  if (pa !== null) parts.push(vline(pa, '#c00', ''));
  if (ba !== null) parts.push(vline(ba, '#888', '6 3'));
  parts.push(
    `<text x="${PAD.l}" y="16" font-weight="bold">${run.name}: pack score (blue, robust z) and RMS / commissioning mean (grey) vs minutes to failure</text>`,
    `<text x="${W / 2}" y="${H - 6}" text-anchor="middle">minutes to failure (shaded: commissioning; red line: pack first alert; grey dashed: RMS baseline first alert; dotted: half-life, 10 min)</text>`,
    '</svg>',
  );
  return `${parts.join('\n')}\n`;
}

function ticks(lifeMin: number): number[] {
  const step = lifeMin > 300 ? 60 : lifeMin > 120 ? 30 : 15;
  const out: number[] = [];
  for (let m = 0; m <= lifeMin; m += step) out.push(m);
  return out;
}
