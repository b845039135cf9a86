import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunOutcome } from '@millwright/edge-agent/pack/bearing/evaluate.js';
import { COMMISSIONING_S, type RunResult } from './femto.js';

/** One SVG per run: pack score and RMS ratio against minutes to failure, with alert markers. */
export function writePlots(dir: string, results: readonly RunResult[]): void {
  mkdirSync(dir, { recursive: true });
  for (const r of results) writeFileSync(join(dir, `plant-${r.run.name}.svg`), plotRun(r));
}

const W = 720;
const H = 300;
const PAD = { l: 56, r: 16, t: 28, b: 40 };

function plotRun(r: RunResult): string {
  const { run, trace } = r;
  const lifeMin = (run.failureMs - run.startMs) / 60_000;
  const ttf = trace.tMs.map((t) => (run.failureMs - t) / 60_000);
  const x = (m: number) => PAD.l + ((lifeMin - m) / lifeMin) * (W - PAD.l - PAD.r);
  const y = (v: number) => {
    const l = Math.log10(Math.min(1000, Math.max(0.1, v)));
    return PAD.t + ((3 - l) / 4) * (H - PAD.t - PAD.b);
  };
  const n0 = trace.baselineRms.filter((_, i) => trace.tMs[i]! - trace.tMs[0]! <= COMMISSIONING_S * 1000);
  const rmsRef = n0.reduce((a, b) => a + b, 0) / n0.length;
  const path = (vals: number[]) =>
    vals
      .map((v, i) => `${i ? 'L' : 'M'}${x(ttf[i]!).toFixed(1)},${y(Number.isFinite(v) ? v : 0.1).toFixed(1)}`)
      .join('');
  const vline = (m: number, color: string, dash: string) =>
    `<line x1="${x(m).toFixed(1)}" x2="${x(m).toFixed(1)}" y1="${PAD.t}" y2="${H - PAD.b}" stroke="${color}" stroke-dasharray="${dash}"/>`;
  const alertAt = (o: RunOutcome) => (o.firstAlertMs === null ? null : (run.failureMs - o.firstAlertMs) / 60_000);
  const threshold = r.artifact.scoring.threshold;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<rect x="${x(lifeMin)}" y="${PAD.t}" width="${(x(lifeMin - COMMISSIONING_S / 60) - x(lifeMin)).toFixed(1)}" height="${H - PAD.t - PAD.b}" fill="#eef"/>`,
    ...[0.1, 1, 10, 100, 1000].map(
      (v) =>
        `<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${PAD.l - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`,
    ),
    ...ticks(lifeMin).map((m) => `<text x="${x(m).toFixed(1)}" y="${H - PAD.b + 16}" text-anchor="middle">${m}</text>`),
    `<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${y(threshold)}" y2="${y(threshold)}" stroke="#c00" stroke-dasharray="4 3"/>`,
    vline(lifeMin / 2, '#999', '2 2'),
    vline(10, '#999', '2 2'),
    `<path d="${path(trace.baselineRms.map((v) => v / rmsRef))}" fill="none" stroke="#888" stroke-width="1"/>`,
    `<path d="${path(trace.scores)}" fill="none" stroke="#036" stroke-width="1.3"/>`,
  ];
  const pa = alertAt(r.pack);
  const ba = alertAt(r.baseline);
  if (pa !== null) parts.push(vline(pa, '#c00', ''));
  if (ba !== null) parts.push(vline(ba, '#888', '6 3'));
  parts.push(
    `<text x="${PAD.l}" y="16" font-weight="bold">${run.name}: pack health score (blue, robust z) and RMS / commissioning mean (grey)</text>`,
    `<text x="${W / 2}" y="${H - 6}" text-anchor="middle">minutes to failure. Shaded: commissioning; red: pack first alert; grey dashed: RMS first alert; dotted: half-life, 10 min</text>`,
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
