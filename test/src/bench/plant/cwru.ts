import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defaultArtifact, defaultIndicatorConfig } from '@millwright/edge-agent/pack/bearing/defaults.js';
import { SKF_6205 } from '@millwright/edge-agent/pack/bearing/geometry.js';
import { IndicatorExtractor } from '@millwright/edge-agent/pack/bearing/indicators.js';
import { BearingHealthModel } from '@millwright/edge-agent/pack/bearing/model.js';
import { readRecording } from '@millwright/edge-agent/pack/bearing/replay.js';
import { manifestFor } from '@millwright/edge-agent/pack/bearing/train.js';
import type { BenchContext } from '../report.js';

/** No clear line at their labelled fault frequency (data README; Smith & Randall, MSSP 2015). */
export const CWRU_EXCLUDED = ['OR014at6', 'B007', 'IR028', 'B021'];
const LABEL_TO_FEATURE: Record<string, string> = { inner_race: 'env_bpfi', outer_race: 'env_bpfo', ball: 'env_bsf' };
const STEMS = ['B007', 'B014', 'B021', 'B028', 'IR007', 'IR014', 'IR021', 'IR028', 'OR007at6', 'OR014at6', 'OR021at6'];

/**
 * Top reason per CWRU fault file, with the model commissioned on the normal recording at the same
 * rate. Not run-to-failure data: the files are scored window by window, outside the pipeline.
 */
export function emitCwru(ctx: BenchContext, dir: string): void {
  ctx.log(
    `CWRU: excluding ${CWRU_EXCLUDED.join(', ')} (no clear line at their labelled frequency, per the data README)`,
  );
  const files = STEMS.flatMap((s) => [`cwru_0hp_${s}_DE12k`, `cwru_0hp_${s}_DE48k`]);
  let hits = 0;
  let total = 0;
  for (const stem of files) {
    if (!existsSync(join(dir, `${stem}.json`)) || CWRU_EXCLUDED.some((x) => stem.includes(`_${x}_`))) continue;
    const rec = readRecording(dir, stem);
    const top = topReason(dir, stem);
    const wanted = Object.entries(LABEL_TO_FEATURE).find(([label]) => rec.label.startsWith(label))?.[1];
    const hit = top === `drive_end_acc.${wanted}`;
    ctx.log(`  ${stem} (${rec.label}): top reason ${top}${hit ? '' : '  <- miss'}`);
    hits += hit ? 1 : 0;
    total++;
  }
  ctx.emit({
    metric: 'plant.cwru.reason_hits',
    value: total ? hits / total : Number.NaN,
    unit: `fraction of ${total} files (4 label-problem files excluded)`,
  });
}

/** A file's top reason: the majority of its windows' first reasons. */
function topReason(dir: string, stem: string): string {
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
