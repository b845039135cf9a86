#!/usr/bin/env node
/**
 * `node edge-agent/dist/pack/bearing/train-cli.js --data DIR --out DIR [--model NAME] [--version V]
 *  [--sequence N] [--max-false-alerts N]`: fits a bearing_health model on a folder of FEMTO-format
 * runs (one global threshold, never per run) and writes artifact.json + manifest.json, ready for
 * `mwctl models push MODEL VERSION --artifact artifact.json --manifest manifest.json`.
 */
import { parseArgs } from 'node:util';
import { defaultArtifact, defaultIndicatorConfig } from './defaults.js';
import { PRONOSTIA } from './geometry.js';
import { readRunDirectory } from './replay.js';
import { computeRunIndicators, trainBearingHealth, writeModel } from './train.js';

const THRESHOLDS = [2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6, 7, 8, 10];

function main(argv: string[]): void {
  const { values } = parseArgs({
    args: argv,
    options: {
      data: { type: 'string' },
      out: { type: 'string' },
      model: { type: 'string', default: 'bearing-health' },
      version: { type: 'string', default: '1.0.0' },
      sequence: { type: 'string', default: '1' },
      'max-false-alerts': { type: 'string' },
    },
  });
  if (!values.data || !values.out) throw new Error('usage: train-cli --data DIR --out DIR');
  const runs = readRunDirectory(values.data);
  const first = runs[0]!;
  const base = defaultArtifact({
    channels: first.channels,
    shaftHz: first.shaftHz,
    indicators: defaultIndicatorConfig(first.sampleRateHz, first.samplesPerSnapshot, PRONOSTIA),
  });
  const indicators = runs.map((r) => computeRunIndicators(r, base));
  const maxFa = values['max-false-alerts'] === undefined ? runs.length / 3 : Number(values['max-false-alerts']);
  const trained = trainBearingHealth(base, indicators, THRESHOLDS, maxFa, {
    model: values.model,
    version: values.version,
    sequence: Number(values.sequence),
  });
  writeModel(values.out, trained.artifact, trained.manifest);
  const s = trained.choice.summary;
  process.stderr.write(
    `threshold ${trained.choice.threshold}: detected ${s.detected}/${s.runs}, median lead ${s.medianLeadMin.toFixed(1)} min, false alerts ${s.falseAlerts}; wrote ${values.out}\n`,
  );
}

main(process.argv.slice(2));
