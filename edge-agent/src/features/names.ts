/**
 * Stable feature names and units. A name is `<channel>.<feature>`; these strings are the contract
 * with model input schemas, so never rename one: add a new name instead.
 */
import type { ChannelSpec } from '../domain/channel.js';
import type { FeatureSpec } from '../domain/model.js';
import type { Band } from '../dsp/band-energy.js';

/** Vibration features in output order, before the bands. Computed on the window's AC part. */
export const VIBRATION_FEATURES = ['rms', 'peak', 'crest', 'kurtosis', 'skewness'] as const;
/** Process features in output order. `rate_of_change` is the least-squares slope per second. */
export const PROCESS_FEATURES = ['mean', 'min', 'max', 'std', 'rate_of_change'] as const;

/** `band_1000_2000`; a fractional edge keeps its digits with `p` for the point (`band_0p5_10`). */
export function bandFeature(band: Band): string {
  return `band_${edge(band.lowHz)}_${edge(band.highHz)}`;
}

/** Names and units of one channel's features, in the order the extractor writes them. */
export function channelFeatureSpecs(spec: ChannelSpec, bands: readonly Band[]): FeatureSpec[] {
  const u = spec.unit;
  if (spec.kind === 'process') {
    const units = [u, u, u, u, `${u}/s`];
    return PROCESS_FEATURES.map((f, i) => ({ name: `${spec.name}.${f}`, unit: units[i]! }));
  }
  const units = [u, u, '1', '1', '1'];
  return [
    ...VIBRATION_FEATURES.map((f, i) => ({ name: `${spec.name}.${f}`, unit: units[i]! })),
    ...bands.map((b) => ({ name: `${spec.name}.${bandFeature(b)}`, unit: `${u}^2` })),
  ];
}

function edge(hz: number): string {
  return String(hz).replace('.', 'p');
}
