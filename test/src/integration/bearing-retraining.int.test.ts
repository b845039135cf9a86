import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EdgeRuntimeVerifier } from '@millwright/control-plane/adapters/edge-runtime/verifier.js';
import { manifestFromPb } from '@millwright/control-plane/adapters/grpc/registry-mapping.js';
import {
  type BearingHealthArtifact,
  parseArtifact,
  serializeArtifact,
} from '@millwright/edge-agent/pack/bearing/artifact.js';
import { defaultArtifact, defaultIndicatorConfig } from '@millwright/edge-agent/pack/bearing/defaults.js';
import { PRONOSTIA } from '@millwright/edge-agent/pack/bearing/geometry.js';
import { buildManifest } from '@millwright/edge-agent/pack/bearing/manifest.js';
import { type RecordedRun, readRunDirectory, replaySnapshots } from '@millwright/edge-agent/pack/bearing/replay.js';
import { chooseThreshold, computeRunIndicators, fitPrior } from '@millwright/edge-agent/pack/bearing/train.js';
import { ArtifactManifest, CaptureReason, LabelKind, type Record as ProtoRecord, RecordClass } from '@millwright/proto';
import { type JetStreamClient, jetstream } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ControlPlaneProcess,
  mwctl,
  NatsServer,
  PostgresServer,
  REPO_ROOT,
  S3Server,
  spawnControlPlane,
  waitFor,
} from '../harness/index.js';
import { publishBatch } from '../support/records.js';

const exec = promisify(execFile);
const FEMTO = join(REPO_ROOT, '../shared/data/bearings/femto');
const TRAINER = join(REPO_ROOT, 'control-plane/dist/trainer/main.js');
const BUCKET = 'mw-bearing-retrain';
const MODEL = 'femto-bearing';
const SITE = 'lab';
const ASSET = 'spindle';
const THRESHOLDS = [3, 4, 5, 6, 8];
const WAIT = 120_000;

/** A run's windows moved to end `endMs` (spacing kept), optionally only its first `n`. */
function retimed(run: RecordedRun, endMs: number, n = run.tMs.length): RecordedRun {
  const shift = endMs - run.tMs[n - 1]!;
  const tMs = run.tMs.slice(0, n).map((t) => t + shift);
  const data = run.data.slice(0, n * run.samplesPerSnapshot * run.channels.length);
  return { ...run, tMs, data, startMs: tMs[0]!, failureMs: tMs.at(-1)! };
}

/**
 * What an agent running the base model with raw capture sends for each window of a run: CAPTURE
 * records whose raw windows are the pack's replay of the recording (float32 LE per channel). With
 * `failed`, the operator's confirmed-failure label on the last window comes first, as agents write it.
 */
function capturedRun(agent: string, run: RecordedRun, failed: boolean): ProtoRecord[] {
  const last = run.tMs.length - 1;
  const records: ProtoRecord[] = [];
  if (failed) {
    records.push({
      seq: 1,
      tsMs: run.tMs[last]! + 100,
      class: RecordClass.RECORD_CLASS_LABEL,
      body: {
        $case: 'label',
        value: {
          predictionId: `${agent}:${last}`,
          kind: LabelKind.LABEL_KIND_CONFIRMED_FAILURE,
          note: 'bearing seized',
          operator: 'lab',
          source: 'agent-api',
        },
      },
    });
  }
  replaySnapshots(run, (blocks, k) => {
    const startMs = run.tMs[k]!;
    records.push({
      seq: records.length + 1,
      tsMs: startMs + 100,
      class: RecordClass.RECORD_CLASS_CAPTURE,
      body: {
        $case: 'sample',
        value: {
          sampleId: `${agent}:${k}:c1`,
          reason: failed && k === last ? CaptureReason.CAPTURE_REASON_LABEL : CaptureReason.CAPTURE_REASON_RANDOM,
          predictionId: `${agent}:${k}`,
          model: MODEL,
          modelVersion: 'v1',
          features: { names: [], values: [], windowStartMs: startMs, windowEndMs: startMs + 100, asset: ASSET },
          raw: blocks.map((b) => ({
            channel: `${ASSET}.${b.channel}`,
            unit: 'g',
            sampleRateHz: b.sampleRateHz,
            startMs,
            samplesF32le: Buffer.from(Float32Array.from(b.values.subarray(0, b.length)).buffer),
          })),
          score: 0,
        },
      },
    });
  });
  return records;
}

async function publishRun(js: JetStreamClient, agent: string, records: ProtoRecord[]): Promise<void> {
  for (let i = 0; i < records.length; i += 20) {
    const chunk = records.slice(i, i + 20);
    await publishBatch(js, {
      site: SITE,
      agent,
      buffer: `${agent}-buf`,
      first: chunk[0]!.seq,
      last: chunk.at(-1)!.seq,
      records: chunk,
    });
  }
}

/** Median over runs of each run's median log RMS of its commissioning windows: the prior, by hand. */
function handPriorLogRms(runs: readonly RecordedRun[], channel: number, commissioningS: number): number {
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const perRun = runs.map((run) => {
    const logs: number[] = [];
    const nch = run.channels.length;
    const n = run.samplesPerSnapshot;
    run.tMs.forEach((t, k) => {
      if (t - run.tMs[0]! > commissioningS * 1000) return;
      let mean = 0;
      for (let i = 0; i < n; i++) mean += run.data[(k * n + i) * nch + channel]!;
      mean /= n;
      let m2 = 0;
      for (let i = 0; i < n; i++) m2 += (run.data[(k * n + i) * nch + channel]! - mean) ** 2;
      logs.push(Math.log(Math.sqrt(m2 / n)));
    });
    return median(logs);
  });
  return median(perRun);
}

describe('example trainer: a bearing_health model retrained on captured raw windows of real run-to-failure data', () => {
  let nats: NatsServer;
  let pg: PostgresServer;
  let s3: S3Server;
  let cp: ControlPlaneProcess;
  let nc: NatsConnection;
  let sql: postgres.Sql;
  let dir: string;
  let base: BearingHealthArtifact;
  /** Bearing3_1 to failure, the first 40 windows of Bearing3_2 (healthy), as the agents captured them. */
  let failing: RecordedRun;
  let healthy: RecordedRun;

  const ctl = (...args: string[]) => mwctl([...args, '--server', cp.grpcAddr], { MW_ACTOR: 'bearing-int' });
  const ctlJson = async <T>(...args: string[]): Promise<T> => {
    const r = await ctl(...args, '--json');
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as T;
  };

  beforeAll(async () => {
    [nats, pg, s3] = await Promise.all([NatsServer.start(), PostgresServer.start(), S3Server.start()]);
    dir = await mkdtemp(join(tmpdir(), 'mw-bearing-retrain-'));
    const e = s3.endpoint;
    const dbUrl = await pg.createDatabase();
    cp = await spawnControlPlane({
      MW_DATABASE_URL: dbUrl,
      MW_NATS_URL: nats.url,
      MW_S3_ENDPOINT: e.endpoint,
      MW_S3_REGION: e.region,
      MW_S3_BUCKET: BUCKET,
      MW_S3_ACCESS_KEY_ID: e.accessKeyId,
      MW_S3_SECRET_ACCESS_KEY: e.secretAccessKey,
      MW_S3_FORCE_PATH_STYLE: 'true',
      MW_SIGNING_DEV_KEY_DIR: join(dir, 'keys'),
      MW_RETRAINING_INTERVAL_S: '1',
      MW_LEADER_RETRY_S: '1',
    });
    sql = postgres(dbUrl, { max: 2, onnotice: () => {} });
    nc = await connect({ servers: nats.url });

    // The pack's replay reader over two runs of one operating condition (1500 rpm).
    const runs = join(dir, 'runs');
    await mkdir(runs);
    for (const stem of ['femto_Bearing3_1', 'femto_Bearing3_2'])
      for (const ext of ['json', 'f32']) await symlink(join(FEMTO, `${stem}.${ext}`), join(runs, `${stem}.${ext}`));
    const [b31, b32] = readRunDirectory(runs);
    const now = Date.now();
    failing = retimed(b31!, now - 60_000);
    healthy = retimed(b32!, now - 120_000, 40);

    // v1: the pack defaults for these sensors, with a fleet prior that knows nothing yet.
    base = {
      ...defaultArtifact({
        channels: b31!.channels,
        shaftHz: b31!.shaftHz,
        indicators: defaultIndicatorConfig(b31!.sampleRateHz, b31!.samplesPerSnapshot, PRONOSTIA),
      }),
      window: { length: b31!.samplesPerSnapshot, everyS: 10 },
    };
    await writeFile(join(dir, 'v1.json'), serializeArtifact(base));
    const manifest = buildManifest(base, { model: MODEL, version: 'v1', sequence: 0 });
    await writeFile(
      join(dir, 'v1.manifest.json'),
      JSON.stringify({ ...manifest, runtime: 'MODEL_RUNTIME_BEARING_HEALTH' }),
    );
    const push = await ctl(
      'models',
      'push',
      MODEL,
      'v1',
      '--artifact',
      join(dir, 'v1.json'),
      '--manifest',
      join(dir, 'v1.manifest.json'),
      '--create',
    );
    expect(push.code, push.stderr).toBe(0);

    const js = jetstream(nc);
    await publishRun(js, 'rig-31', capturedRun('rig-31', failing, true));
    await publishRun(js, 'rig-32', capturedRun('rig-32', healthy, false));
  }, 240_000);

  afterAll(async () => {
    await cp?.proc.stop();
    await nc?.close();
    await sql?.end({ timeout: 5 });
    await Promise.all([nats?.dispose(), pg?.dispose(), s3?.dispose()]);
  }, 120_000);

  it('refits the prior on the captured windows, chooses the threshold on the failed run and registers a version that passes the self-test', async () => {
    const windows = failing.tMs.length + healthy.tMs.length;
    await waitFor(
      `${windows} sealed dataset rows`,
      async () => {
        const [r] = await sql<{ n: number; labelled: number }[]>`
          select coalesce(sum(rows), 0)::int as n, coalesce(sum(labelled), 0)::int as labelled
          from dataset_objects where model = ${MODEL}`;
        return r!.n === windows && r!.labelled === 1 ? true : undefined;
      },
      WAIT,
      500,
    );
    const req = await ctlJson<{ id: string; snapshotId: string }>(
      'retraining',
      'request',
      MODEL,
      '--base',
      'v1',
      '--reason',
      'refit on captured windows',
    );

    const e = s3.endpoint;
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MW_')));
    await exec(process.execPath, [TRAINER], {
      env: {
        ...env,
        MW_SERVER: cp.grpcAddr,
        MW_TOKEN: cp.adminToken,
        MW_ONCE: 'true',
        MW_S3_ENDPOINT: e.endpoint,
        MW_S3_REGION: e.region,
        MW_S3_BUCKET: BUCKET,
        MW_S3_ACCESS_KEY_ID: e.accessKeyId,
        MW_S3_SECRET_ACCESS_KEY: e.secretAccessKey,
        MW_S3_FORCE_PATH_STYLE: 'true',
        MW_BEARING_THRESHOLDS: JSON.stringify(THRESHOLDS),
      },
      timeout: WAIT,
    });
    const done = (
      await ctlJson<{ id: string; status: string; resultVersion?: string; progressNote?: string }[]>(
        'retraining',
        'ls',
        '--model',
        MODEL,
      )
    ).find((r) => r.id === req.id)!;
    expect(done.status, done.progressNote).toBe('RETRAINING_STATUS_COMPLETED');

    const version = await ctlJson<{ sha256: string; manifest: Record<string, unknown> }>(
      'models',
      'get',
      MODEL,
      done.resultVersion!,
    );
    const manifest = ArtifactManifest.fromJSON(version.manifest);
    expect(manifest.lineage).toMatchObject({
      parentVersion: 'v1',
      datasetSnapshotId: req.snapshotId,
      retrainingRequestId: req.id,
    });
    expect(version.manifest.runtime).toBe('MODEL_RUNTIME_BEARING_HEALTH');
    expect(manifest.trainingMetrics).toMatchObject({ windows, runs: 2, failed_runs: 1, skipped_rows: 0 });

    const url = (await ctl('models', 'url', MODEL, done.resultVersion!)).stdout.trim();
    const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(version.sha256);
    const trained = parseArtifact(bytes);

    // The fleet prior comes from the captured windows: the pack's fit on the same windows, and the
    // RMS dimension by hand; the base's prior (all zeros) would fail both.
    const indicators = [failing, healthy].map((r) => computeRunIndicators(r, base));
    const prior = fitPrior(base, indicators);
    expect(trained.prior.median).toHaveLength(prior.median.length);
    for (const [i, m] of trained.prior.median.entries()) expect(m).toBeCloseTo(prior.median[i]!, 9);
    for (const [i, s] of trained.prior.scale.entries()) expect(s).toBeCloseTo(prior.scale[i]!, 9);
    const rms = manifest.inputs.findIndex((f) => f.name === `${base.channels[0]}.rms`);
    expect(trained.prior.median[rms]).toBeCloseTo(
      handPriorLogRms([failing, healthy], 0, base.commissioning.durationS),
      9,
    );
    expect(trained.prior.median[rms]).not.toBe(base.prior.median[rms]);

    // The threshold is chosen on the run that ended in the confirmed failure, as the pack chooses it.
    const candidates = [...new Set([...THRESHOLDS, base.scoring.threshold])].sort((a, b) => a - b);
    const choice = chooseThreshold({ ...base, prior }, [indicators[0]!], candidates, 1 / 3, 'plateau-middle');
    expect(trained.scoring.threshold).toBe(choice.threshold);
    expect(manifest.output?.alertThreshold).toBe(choice.threshold);
    expect(manifest.trainingMetrics.detected_runs).toBe(choice.summary.detected);

    // The registry's own check (the agents' runtime) passes, and a wrong vector would not.
    const registered = manifestFromPb(manifest);
    expect(registered.selfTest.length).toBeGreaterThan(1);
    const verifier = new EdgeRuntimeVerifier();
    expect(await verifier.verify(registered, bytes)).toEqual({ ok: true });
    const wrong = registered.selfTest.map((v, i) => (i === 0 ? { ...v, expectedScore: v.expectedScore + 1 } : v));
    expect(await verifier.verify({ ...registered, selfTest: wrong }, bytes)).toMatchObject({ ok: false });
  }, 300_000);
});
