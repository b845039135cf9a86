/**
 * A small bearing-health model for the demo and the browser tests: a linear score over the
 * simulator's vibration features (kurtosis and RMS rise as a bearing defect develops), registered
 * through the real `mwctl models push` and deployed by writing each agent's desired state.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DesiredState, subjects } from '@millwright/proto';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import type { mwctl } from '../harness/index.js';

export const MODEL = 'bearing-health';

/** Asset-relative inputs: every simulated asset produces them. */
const INPUTS = [
  { name: 'vib_h.kurtosis', unit: '1' },
  { name: 'vib_h.rms', unit: 'g' },
  { name: 'vib_v.rms', unit: 'g' },
  { name: 'vib_h.crest', unit: '1' },
];

/** Weights per version: 1.1.0 leans more on kurtosis (the canary's candidate). */
const VERSIONS: Record<string, { weights: number[]; intercept: number; parent: string }> = {
  '1.0.0': { weights: [0.8, 4, 2, 0.2], intercept: -3.6, parent: '' },
  '1.1.0': { weights: [1.0, 3, 2, 0.15], intercept: -3.8, parent: '1.0.0' },
};

const score = (v: (typeof VERSIONS)[string], x: number[]) =>
  v.intercept + v.weights.reduce((s, w, i) => s + w * x[i]!, 0);

/** Writes the artifact and manifest of `version` into `dir`; returns their paths. */
export async function writeModelFiles(dir: string, version: string): Promise<{ artifact: string; manifest: string }> {
  const v = VERSIONS[version];
  if (!v) throw new Error(`no demo model version ${version}`);
  const artifact = join(dir, `${MODEL}-${version}.json`);
  const manifest = join(dir, `${MODEL}-${version}.manifest.json`);
  await writeFile(artifact, `${JSON.stringify({ weights: v.weights, intercept: v.intercept })}\n`);
  const tests = [
    [2.5, 0.1, 0.1, 3],
    [9, 1.2, 0.8, 8],
  ];
  await writeFile(
    manifest,
    JSON.stringify({
      runtime: 'MODEL_RUNTIME_LINEAR',
      inputs: INPUTS,
      output: { meaning: 'bearing damage index', alertThreshold: 2, uncertainLow: 1.5, uncertainHigh: 2 },
      selfTest: tests.map((x) => ({ inputs: x, expectedScore: score(v, x), tolerance: 1e-9 })),
      trainingMetrics: { auc: version === '1.0.0' ? 0.91 : 0.94, f1: version === '1.0.0' ? 0.82 : 0.86 },
      lineage: { parentVersion: v.parent, datasetSnapshotId: `snap-${version}` },
      description: 'linear bearing-health index over vibration features',
    }),
  );
  return { artifact, manifest };
}

export type Ctl = (...args: string[]) => ReturnType<typeof mwctl>;

export async function ok(res: Awaited<ReturnType<typeof mwctl>>, what: string): Promise<string> {
  if (res.code !== 0) throw new Error(`${what} failed (${res.code}): ${res.stderr.trim()}`);
  return res.stdout;
}

/** Registers `version` with the real mwctl (creating the model on first push). */
export async function pushModel(ctl: Ctl, dir: string, version: string): Promise<void> {
  const f = await writeModelFiles(dir, version);
  await ok(
    await ctl('models', 'push', MODEL, version, '--artifact', f.artifact, '--manifest', f.manifest, '--create'),
    `models push ${version}`,
  );
}

/** The registry's active signing key (agents pin it with trust.keys). */
export async function trustKey(ctl: Ctl): Promise<string> {
  const keys = JSON.parse(await ok(await ctl('models', 'keys', '--json'), 'models keys')) as {
    publicKey: string;
    active?: boolean;
  }[];
  const key = keys.find((k) => k.active) ?? keys[0];
  if (!key) throw new Error('the registry has no signing key');
  return key.publicKey;
}

/** Tells agents to run `version` of the demo's fleet model (see {@link deployVersion}). */
export async function deployDirect(
  ctl: Ctl,
  natsUrl: string,
  version: string,
  agents: readonly { site: string; agent: string }[],
  generation = Date.now(),
): Promise<void> {
  await deployVersion(ctl, natsUrl, { model: MODEL, version }, agents, generation);
}

/**
 * Tells agents to run `model@version`, as the rollout controller would: the signed version and a
 * presigned URL in each agent's desired state (KV `mw_desired`).
 */
export async function deployVersion(
  ctl: Ctl,
  natsUrl: string,
  { model, version }: { model: string; version: string },
  agents: readonly { site: string; agent: string }[],
  generation = Date.now(),
): Promise<void> {
  const v = JSON.parse(await ok(await ctl('models', 'get', model, version, '--json'), 'models get')) as {
    sha256: string;
    sizeBytes: number;
    signature: { keyId: string; signature: string; payload: string };
  };
  const url = (await ok(await ctl('models', 'url', model, version), 'models url')).trim();
  const nc = await connect({ servers: natsUrl });
  try {
    const kv = await new Kvm(jetstream(nc)).create(subjects.KV.desired, { history: 16, allow_direct: true });
    for (const { site, agent } of agents) {
      const desired = DesiredState.fromPartial({
        agentId: agent,
        siteId: site,
        generation,
        model: {
          model,
          version,
          artifactUrl: url,
          sha256: v.sha256,
          sizeBytes: v.sizeBytes,
          signature: v.signature,
        },
        rolloutId: '',
        reason: 'demo baseline',
        issuedAtMs: Date.now(),
      });
      await kv.put(subjects.agentKey(site, agent), DesiredState.encode(desired).finish());
    }
  } finally {
    await nc.close();
  }
}
