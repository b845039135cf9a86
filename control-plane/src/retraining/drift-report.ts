import type { DriftReport, FeatureDrift } from './domain.js';
import { ks, psi, referenceSlots } from './drift.js';
import type { RetrainingStore, VersionCatalog, VersionInfo } from './ports.js';

export interface DriftQuery {
  model: string;
  /** Empty: every version with histograms in the range. */
  version: string;
  /** Empty: every site. */
  siteId: string;
  fromMs: number;
  toMs: number;
}

/**
 * Drift and performance per model version and site over [fromMs, toMs): PSI and KS of every
 * referenced feature against the training reference in the version's manifest (from the agents'
 * hourly histograms), cleaning rates of the site, alert rate and label-based precision.
 */
export async function computeDrift(
  deps: { store: RetrainingStore; catalog: VersionCatalog },
  q: DriftQuery,
): Promise<DriftReport[]> {
  const totals = await deps.store.histogramTotals(q);
  const groups = new Map<string, { version: string; siteId: string; counts: Map<string, number[]> }>();
  for (const t of totals) {
    const key = `${t.version}\u0000${t.siteId}`;
    let g = groups.get(key);
    if (!g) {
      g = { version: t.version, siteId: t.siteId, counts: new Map() };
      groups.set(key, g);
    }
    g.counts.set(t.feature, t.counts);
  }
  const reports: DriftReport[] = [];
  const versions = new Map<string, VersionInfo | undefined>();
  for (const g of [...groups.values()].sort((a, b) => (a.version + a.siteId < b.version + b.siteId ? -1 : 1))) {
    if (!versions.has(g.version))
      versions.set(g.version, await deps.catalog.getVersion(q.model, g.version).catch(() => undefined));
    const v = versions.get(g.version);
    if (!v) continue;
    reports.push(await report(deps.store, q, v, g.siteId, featureDrift(v, g.counts)));
  }
  return reports;
}

function featureDrift(v: VersionInfo, counts: Map<string, number[]>): FeatureDrift[] {
  const out: FeatureDrift[] = [];
  for (const ref of v.manifest.reference) {
    const c = counts.get(ref.feature);
    const slots = referenceSlots(ref.binFractions);
    if (!c || c.length !== slots.length) continue;
    const samples = c.reduce((s, x) => s + x, 0);
    if (samples === 0) continue;
    out.push({ feature: ref.feature, psi: psi(slots, c), ks: ks(slots, c), samples });
  }
  return out;
}

async function report(
  store: RetrainingStore,
  q: DriftQuery,
  v: VersionInfo,
  siteId: string,
  features: FeatureDrift[],
): Promise<DriftReport> {
  const range = { siteId, fromMs: q.fromMs, toMs: q.toMs };
  const [quality, stats, labels] = await Promise.all([
    store.quality(range),
    store.modelStats({ ...range, version: v.version }),
    store.labelPrecision({ ...range, version: v.version }),
  ]);
  const labelled = labels.confirmed + labels.falseAlarms;
  return {
    model: q.model,
    version: v.version,
    siteId,
    fromMs: q.fromMs,
    toMs: q.toMs,
    features,
    spikeRate: quality.points > 0 ? quality.spikes / quality.points : 0,
    stuckRate: quality.points > 0 ? quality.stuck / quality.points : 0,
    calibrationDriftChannels: quality.driftChannels,
    alertRate: stats.inferences > 0 ? stats.alerts / stats.inferences : 0,
    precision: labelled > 0 ? labels.confirmed / labelled : 0,
    labelledAlerts: labelled,
    predictions: stats.inferences,
  };
}
