/**
 * The demo's test rig: one machine whose bearing wears out for real. Its agent replays a FEMTO-ST
 * PRONOSTIA run-to-failure recording (real vibration, /work/shared/data/bearings README) through its
 * own data plane, time-compressed, and scores it with the rotating-machinery pack (bearing_health):
 * the same artifact `pnpm bench plant` evaluates, its time constants stated in replay time.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { compressTime } from '@millwright/edge-agent/pack/bearing/artifact.js';
import { buildManifest } from '@millwright/edge-agent/pack/bearing/manifest.js';
import { writeModel } from '@millwright/edge-agent/pack/bearing/train.js';
import { packArtifact } from '../bench/plant/femto.js';
import { listRuns, type RunMeta } from '../bench/plant/runs.js';
import { freePort, type ManagedProcess, REPO_ROOT, spawnAgent, waitFor } from '../harness/index.js';
import { type Ctl, deployVersion, ok } from './fleet-model.js';

export const RIG = {
  agent: 'north-rig-4',
  site: 'plant-north',
  line: 'L3',
  model: 'bearing-pack',
  version: '1.0.0',
  /** 86 minutes from healthy to failure; the pack alerts 36 minutes before it (docs/PLANT-EVALUATION.md). */
  run: 'Bearing3_1',
  /**
   * Recorded minutes per replayed minute: the run lasts under 3 minutes, its first 10 minutes (the
   * model's commissioning) 20 s, and the alert comes about 100 s after the replay starts.
   */
  pace: 30,
} as const;

/**
 * Where the bearing data set is: `--bearings DIR`, else MW_DEMO_BEARINGS_DIR, else `../shared/data/bearings`
 * beside the repository (a clean clone next to the shared data).
 * @throws Error naming the folder looked in and how to point elsewhere, when the rig's run is not there.
 */
export function bearingDataDir(argv: readonly string[], env: NodeJS.ProcessEnv): string {
  const i = argv.indexOf('--bearings');
  const given = i >= 0 ? argv[i + 1] : env.MW_DEMO_BEARINGS_DIR;
  const dir = resolve(given ?? join(REPO_ROOT, '..', 'shared', 'data', 'bearings'));
  const stem = join(dir, 'femto', `femto_${RIG.run}`);
  const missing = [`${stem}.json`, `${stem}.f32`].filter((f) => !existsSync(f));
  if (missing.length > 0) {
    throw new Error(
      `bearing data not found: ${missing.join(' and ')} missing. The demo's test rig replays the ` +
        `FEMTO-ST run ${RIG.run}; pass --bearings DIR (or set MW_DEMO_BEARINGS_DIR) to the folder that ` +
        `holds femto/ (the shared data set, by default ${join('..', 'shared', 'data', 'bearings')} beside the repository)`,
    );
  }
  return dir;
}

/** The rig's recording, read from its sidecar. */
export function rigRun(dataDir: string): RunMeta {
  const run = listRuns(join(dataDir, 'femto')).find((r) => r.name === RIG.run);
  if (!run) throw new Error(`${RIG.run} is not a run-to-failure recording in ${join(dataDir, 'femto')}`);
  return run;
}

/**
 * Writes the pack's model for the rig with the pack's own tooling and registers it with the real
 * `mwctl models push` (the registry self-tests it on the agent runtimes and signs it).
 */
export async function pushRigModel(ctl: Ctl, dir: string, run: RunMeta): Promise<void> {
  const artifact = compressTime(packArtifact(run), RIG.pace);
  const manifest = buildManifest(artifact, {
    model: RIG.model,
    version: RIG.version,
    sequence: 1,
    description: `rotating-machinery pack for ${run.name}, time constants for a ${RIG.pace}x replay`,
  });
  const out = join(dir, RIG.model);
  writeModel(out, artifact, manifest);
  const files = ['--artifact', join(out, 'artifact.json'), '--manifest', join(out, 'manifest.json')];
  await ok(await ctl('models', 'push', RIG.model, RIG.version, ...files, '--create'), 'models push bearing-pack');
}

export interface RigDeps {
  ctl: Ctl;
  natsUrl: string;
  trustKey: string;
  run: RunMeta;
  /** The agent's data dir (kept across its restart). */
  dataDir: string;
}

/**
 * Starts the rig's agent so that the model sees the recording from its first snapshot: a first start
 * without sources takes the model from its desired state; the second, with the replay, restores it
 * from disk before the first sample (offline-first start), so commissioning is the run's first minutes.
 */
export async function startRig(deps: RigDeps): Promise<ManagedProcess> {
  const httpPort = await freePort();
  const env = {
    MW_AGENT_ID: RIG.agent,
    MW_SITE_ID: RIG.site,
    MW_LINE_ID: RIG.line,
    MW_LABELS: JSON.stringify({ machine_type: 'bearing-rig', recording: `femto-${RIG.run}` }),
    MW_NATS_URL: deps.natsUrl,
    MW_DATA_DIR: deps.dataDir,
    MW_HTTP_PORT: String(httpPort),
    MW_HEARTBEAT_INTERVAL_S: '2',
    MW_REPORTS_INTERVAL_S: '5',
    MW_TRUST_KEYS: deps.trustKey,
    MW_ALERTS_HOLD_OFF_S: '30',
  };
  const fetcher = await spawnAgent({ ...env, MW_SOURCES: '[]' });
  try {
    await deployVersion(deps.ctl, deps.natsUrl, RIG, [{ site: RIG.site, agent: RIG.agent }]);
    await waitFor(
      `${RIG.agent} to install ${RIG.model} ${RIG.version}`,
      async () => {
        const res = await fetch(`http://127.0.0.1:${httpPort}/status`);
        const s = (await res.json()) as { model: { model: string; version: string } | null };
        return s.model?.model === RIG.model && s.model.version === RIG.version ? true : undefined;
      },
      60_000,
      250,
    );
  } finally {
    await fetcher.stop();
  }
  const replay = {
    type: 'replay_f32',
    id: 'femto',
    sidecar: deps.run.sidecar,
    pace: RIG.pace,
    // Sample times follow the replay clock, so the dashboard shows the rig live.
    timestamps: 'replay',
  };
  return spawnAgent({ ...env, MW_SOURCES: JSON.stringify([replay]) });
}

interface Prediction {
  tsMs: number;
  decision: 'normal' | 'alert' | 'unknown';
  reasons: { feature: string; text: string }[];
}

/**
 * Watches the rig through the dashboard's API and calls `onAlert` once, with the first alert's run
 * minute and reasons. Returns a function that stops watching.
 */
export function watchRig(
  httpUrl: string,
  token: string,
  onAlert: (minute: number, reasons: string[]) => void,
): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const poll = async () => {
    const res = await fetch(`${httpUrl}/api/agents/${RIG.agent}/predictions?limit=500`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const list = res.ok ? ((await res.json()) as Prediction[]).sort((a, b) => a.tsMs - b.tsMs) : [];
    const alert = list.find((p) => p.decision === 'alert');
    if (!alert) return false;
    // The first window is the run's first snapshot; replay time runs `pace` times faster.
    onAlert(
      ((alert.tsMs - list[0]!.tsMs) * RIG.pace) / 60_000,
      alert.reasons.map((r) => r.text),
    );
    return true;
  };
  const next = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      poll().then(
        (done) => (done ? undefined : next()),
        () => next(),
      );
    }, 2000);
  };
  next();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
