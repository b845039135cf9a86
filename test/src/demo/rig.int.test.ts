import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentConfigSchema } from '@millwright/edge-agent/config.js';
import { VirtualClock } from '@millwright/edge-agent/ingest/clock.js';
import { F32ReplaySource } from '@millwright/edge-agent/ingest/replay-f32.js';
import {
  type BearingHealthArtifact,
  compressTime,
  serializeArtifact,
} from '@millwright/edge-agent/pack/bearing/artifact.js';
import { buildManifest } from '@millwright/edge-agent/pack/bearing/manifest.js';
import { EdgePipeline } from '@millwright/edge-agent/pipeline/edge-pipeline.js';
import { createAgentRuntimeRegistry } from '@millwright/edge-agent/runtimes.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packArtifact } from '../bench/plant/femto.js';
import {
  type ControlPlaneProcess,
  mwctl,
  NatsServer,
  PostgresServer,
  S3Server,
  spawnControlPlane,
} from '../harness/index.js';
import { bearingDataDir, pushRigModel, RIG, rigRun } from './rig.js';

describe('the demo rig’s bearing data', () => {
  it('is found beside the repository on a clean clone', () => {
    expect(rigRun(bearingDataDir([], {})).name).toBe(RIG.run);
  });

  it('names the missing files and how to point elsewhere when it is not there', () => {
    const dir = join(tmpdir(), 'mw-no-bearings');
    expect(() => bearingDataDir(['--bearings', dir], {})).toThrow(
      `bearing data not found: ${join(dir, 'femto', `femto_${RIG.run}.json`)} and`,
    );
    expect(() => bearingDataDir([], { MW_DEMO_BEARINGS_DIR: dir })).toThrow(/pass --bearings DIR/);
  });
});

/** Decisions and first reasons of `artifact` on the rig's run replayed at `pace` through the agent's pipeline. */
async function replay(artifact: BearingHealthArtifact, pace: number | 'asap', timestamps: 'replay' | 'original') {
  const run = rigRun(bearingDataDir([], {}));
  const manifest = buildManifest(artifact, { model: RIG.model, version: RIG.version, sequence: 1 });
  const model = await createAgentRuntimeRegistry().loadModel(manifest, serializeArtifact(artifact));
  const config = AgentConfigSchema.parse({ agentId: RIG.agent, siteId: RIG.site });
  const clock = new VirtualClock(Date.UTC(2026, 10, 25));
  const source = await F32ReplaySource.open({ id: 'femto', sidecar: run.sidecar, pace, timestamps }, { clock });
  const out: { decision: string; reasons: string[] }[] = [];
  const pipeline = new EdgePipeline({
    agentId: RIG.agent,
    bootId: 'b',
    channels: source.channels,
    cleaning: () => config.cleaning.defaults,
    features: () => config.features.vibration,
    drift: config.cleaning.drift,
    models: { active: () => model, shadow: () => undefined },
    now: () => clock.now(),
    onPrediction: (p) => out.push({ decision: p.decision, reasons: p.reasons.map((r) => r.text) }),
    onModelError: (err) => {
      throw err;
    },
  });
  await source.start(pipeline.accept);
  while (!source.stats().finished) await clock.advanceAsync(1000);
  return out;
}

describe('the rig’s time-compressed pack', () => {
  it('decides window for window as the evaluated pack does on the recording’s own time', async () => {
    const run = rigRun(bearingDataDir([], {}));
    const live = await replay(compressTime(packArtifact(run), RIG.pace), RIG.pace, 'replay');
    const recorded = await replay(packArtifact(run), 'asap', 'original');
    expect(live).toEqual(recorded);
    // Commissioning, then healthy windows, then the alert.
    expect(live[0]!.decision).toBe('unknown');
    expect(live.findIndex((p) => p.decision === 'alert')).toBeGreaterThan(
      live.findIndex((p) => p.decision === 'normal'),
    );
  });
});

describe('a bearing_health model written by the pack’s tooling', () => {
  let nats: NatsServer;
  let pg: PostgresServer;
  let s3: S3Server;
  let cp: ControlPlaneProcess;
  let dir: string;

  beforeAll(async () => {
    [nats, pg, s3] = await Promise.all([NatsServer.start(), PostgresServer.start(), S3Server.start()]);
    dir = await mkdtemp(join(tmpdir(), 'mw-rig-int-'));
    const e = s3.endpoint;
    cp = await spawnControlPlane({
      MW_DATABASE_URL: await pg.createDatabase(),
      MW_NATS_URL: nats.url,
      MW_S3_ENDPOINT: e.endpoint,
      MW_S3_REGION: e.region,
      MW_S3_BUCKET: 'mw-rig',
      MW_S3_ACCESS_KEY_ID: e.accessKeyId,
      MW_S3_SECRET_ACCESS_KEY: e.secretAccessKey,
      MW_S3_FORCE_PATH_STYLE: 'true',
      MW_SIGNING_DEV_KEY_DIR: join(dir, 'keys'),
    });
  });

  afterAll(async () => {
    await cp?.proc.stop();
    await Promise.all([nats?.dispose(), pg?.dispose(), s3?.dispose()]);
  });

  it('pushes through mwctl, passes the registry’s self-test on the agent runtime and reads back as written', async () => {
    const ctl = (...args: string[]) => mwctl([...args, '--server', cp.grpcAddr]);
    await pushRigModel(ctl, dir, rigRun(bearingDataDir([], {})));
    const written = JSON.parse(await readFile(join(dir, RIG.model, 'manifest.json'), 'utf8')) as {
      runtime: string;
      inputs: unknown[];
      selfTest: unknown[];
    };
    expect(written.runtime).toBe('MODEL_RUNTIME_BEARING_HEALTH');
    const got = await ctl('models', 'get', RIG.model, RIG.version, '--json');
    expect(got.code, got.stderr).toBe(0);
    const v = JSON.parse(got.stdout) as {
      manifest: { runtime: string; inputs: unknown[]; selfTest: unknown[] };
      signature?: { signature: string };
    };
    expect(v.manifest.runtime).toBe('MODEL_RUNTIME_BEARING_HEALTH');
    expect(v.manifest.inputs).toEqual(written.inputs);
    expect(v.manifest.selfTest).toHaveLength(written.selfTest.length);
    expect(v.signature?.signature).toBeTruthy();
  });
});
