import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DesiredState, RetrainingEvent, subjects } from '@millwright/proto';
import { jetstream } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ControlPlaneProcess,
  freePort,
  type ManagedProcess,
  mwctl,
  NatsServer,
  PostgresServer,
  REPO_ROOT,
  S3Server,
  spawnAgent,
  spawnControlPlane,
  waitFor,
} from '../harness/index.js';

const exec = promisify(execFile);
const BUCKET = 'mw-retrain-e2e';
const TRAINER = join(REPO_ROOT, 'control-plane/dist/trainer/main.js');
const INPUTS = [
  { name: 'temp_de.rate_of_change', unit: 'degC/s' },
  { name: 'temp_nde.rate_of_change', unit: 'degC/s' },
  { name: 'current.std', unit: 'A' },
];
const DRIFTING = 'temp_nde.rate_of_change';
const WAIT = 120_000;

interface Row {
  prediction_id: string;
  site_id: string;
  ts_ms: number;
  label: string | null;
  features: Record<string, number>;
  raw: { channel: string; key: string; offset: number; bytes: number }[];
}

interface RequestJson {
  id: string;
  trigger: string;
  reason: string;
  status: string;
  snapshotId: string;
  baseVersion: string;
  resultVersion?: string;
  progressNote?: string;
}

/** A simulated pump whose process channels run at 10 Hz (1 s feature windows), without random data faults. */
function simulator(drift: boolean): string {
  return JSON.stringify([
    {
      type: 'simulator',
      id: 'sim',
      seed: 7,
      timeCompression: 60,
      assets: [
        {
          name: 'pump1',
          vibrationRateHz: 2560,
          temperatureRateHz: 10,
          currentRateHz: 10,
          bearingFault: null,
          spikes: null,
          stuck: null,
          nans: null,
          dropouts: null,
          // Calibration drift of the non-drive-end temperature sensor: +1 degC per real second.
          drift: drift ? { channel: 'temp_nde', startH: 0.02, ratePerHour: 60 } : null,
        },
      ],
    },
  ]);
}

describe('retraining loop: plant -> dataset -> drift -> request -> trainer -> new version', () => {
  let nats: NatsServer;
  let pg: PostgresServer;
  let s3: S3Server;
  let cp: ControlPlaneProcess;
  let nc: NatsConnection;
  let kv: KV;
  let sql: postgres.Sql;
  let s3c: S3Client;
  let dir: string;
  let trustKey: string;
  const agents: Record<string, { proc: ManagedProcess; port: number; site: string; dataDir: string }> = {};
  const hooks: unknown[] = [];
  const hookServer = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      hooks.push(JSON.parse(body));
      res.end('ok');
    });
  });
  let generation = 0;
  let v1 = '';
  let bootstrapSnapshot = '';

  const ctl = (...args: string[]) => mwctl([...args, '--server', cp.grpcAddr], { MW_ACTOR: 'e2e' });
  const ctlJson = async <T>(...args: string[]): Promise<T> => {
    const r = await ctl(...args, '--json');
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as T;
  };

  async function getObject(key: string): Promise<Buffer> {
    const res = await s3c.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return Buffer.from(await res.Body!.transformToByteArray());
  }

  async function rowsOf(where: { site: string; version?: string }): Promise<Row[]> {
    const objects = await sql<{ key: string }[]>`select key from dataset_objects
      where site_id = ${where.site} and (${where.version ?? ''} = '' or version = ${where.version ?? ''}) order by key`;
    const rows: Row[] = [];
    for (const o of objects) {
      const text = gunzipSync(await getObject(o.key)).toString('utf8');
      for (const line of text.split('\n').filter(Boolean)) rows.push(JSON.parse(line) as Row);
    }
    return rows;
  }

  async function startAgent(id: string, site: string, drift: boolean, extra: Record<string, string> = {}) {
    const port = agents[id]?.port ?? (await freePort());
    const dataDir = agents[id]?.dataDir ?? (await mkdtemp(join(tmpdir(), `mw-${id}-`)));
    const proc = await spawnAgent({
      MW_AGENT_ID: id,
      MW_SITE_ID: site,
      MW_DATA_DIR: dataDir,
      MW_NATS_URL: nats.url,
      MW_HTTP_PORT: String(port),
      MW_TRUST_KEYS: trustKey,
      MW_REPORTS_INTERVAL_S: '1',
      MW_HEARTBEAT_INTERVAL_S: '1',
      MW_SOURCES: simulator(drift),
      MW_FEATURES_PROCESS: JSON.stringify({ windowSize: 10 }),
      MW_FEATURES_VIBRATION: JSON.stringify({ windowSize: 256 }),
      MW_CAPTURE_HISTOGRAM_FLUSH_S: '2',
      ...extra,
    });
    agents[id] = { proc, port, site, dataDir };
  }

  /** What a rollout would write: the agent's desired state in KV mw_desired, signed artifact and capture policy. */
  async function deploy(id: string, version: string, capture: DesiredState['capture']): Promise<void> {
    const v = await ctlJson<{
      sha256: string;
      sizeBytes: number | string;
      signature: { keyId: string; signature: string; payload: string };
    }>('models', 'get', 'press', version);
    const url = (await ctl('models', 'url', 'press', version)).stdout.trim();
    const site = agents[id]!.site;
    const state = DesiredState.fromPartial({
      agentId: id,
      siteId: site,
      generation: ++generation,
      model: {
        model: 'press',
        version,
        artifactUrl: url,
        urlExpiresAtMs: Date.now() + 600_000,
        sha256: v.sha256,
        sizeBytes: Number(v.sizeBytes),
        signature: v.signature,
      },
      capture,
      issuedAtMs: Date.now(),
    });
    await kv.put(subjects.agentKey(site, id), DesiredState.encode(state).finish());
  }

  async function predictions(id: string): Promise<{ predictionId: string; modelVersion: string }[]> {
    const res = await fetch(`http://127.0.0.1:${agents[id]!.port}/predictions?limit=20`);
    return ((await res.json()) as { predictions: { predictionId: string; modelVersion: string }[] }).predictions;
  }

  const runs = (id: string, version: string) =>
    waitFor(
      `${id} scoring with ${version}`,
      async () => ((await predictions(id))[0]?.modelVersion === version ? true : undefined),
      WAIT,
      500,
    );

  async function runTrainer(): Promise<void> {
    const e = s3.endpoint;
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MW_'))) as Record<
      string,
      string
    >;
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
      },
      timeout: WAIT,
    });
  }

  async function request(id: string): Promise<RequestJson> {
    const all = await ctlJson<RequestJson[]>('retraining', 'ls', '--model', 'press');
    return all.find((r) => r.id === id)!;
  }

  beforeAll(async () => {
    [nats, pg, s3] = await Promise.all([NatsServer.start(), PostgresServer.start(), S3Server.start()]);
    dir = await mkdtemp(join(tmpdir(), 'mw-retrain-e2e-'));
    const dbUrl = await pg.createDatabase();
    const e = s3.endpoint;
    s3c = new S3Client({
      endpoint: e.endpoint,
      region: e.region,
      forcePathStyle: true,
      credentials: { accessKeyId: e.accessKeyId, secretAccessKey: e.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', r));
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
    kv = await new Kvm(nc).open(subjects.KV.desired);
    // v0: a hand-made logistic model without a training reference (so no drift baseline yet).
    const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
    await writeFile(join(dir, 'v0.json'), JSON.stringify({ weights: [0.5, 0.5, 1], intercept: -1.5 }));
    await writeFile(
      join(dir, 'v0.manifest.json'),
      JSON.stringify({
        runtime: 'MODEL_RUNTIME_LOGISTIC',
        inputs: INPUTS,
        output: { meaning: 'p(fault)', alertThreshold: 0.9, uncertainLow: 0.4, uncertainHigh: 0.6 },
        selfTest: [{ inputs: [0, 0, 0], expectedScore: sigmoid(-1.5), tolerance: 1e-9 }],
      }),
    );
    const push = await ctl(
      'models',
      'push',
      'press',
      'v0',
      '--artifact',
      join(dir, 'v0.json'),
      '--manifest',
      join(dir, 'v0.manifest.json'),
      '--create',
    );
    expect(push.code, push.stderr).toBe(0);
    trustKey = (await ctlJson<{ publicKey: string }[]>('models', 'keys'))[0]!.publicKey;
    // press-a's plant allows heavy capture; the remote policies below stay within these caps.
    await startAgent('press-a', 'plant-a', false, {
      MW_CAPTURE_MAX_SAMPLES_PER_HOUR: '100000',
      MW_CAPTURE_MAX_BYTES_PER_HOUR: '1000000000',
    });
    // plant-b follows its own config's capture policy: everything, at most 15 samples an hour.
    await startAgent('press-b', 'plant-b', false, {
      MW_CAPTURE_ENABLED: 'true',
      MW_CAPTURE_RANDOM_RATE: '1',
      MW_CAPTURE_MAX_SAMPLES_PER_HOUR: '15',
    });
  }, 240_000);

  afterAll(async () => {
    for (const a of Object.values(agents)) await a.proc.stop();
    await cp?.proc.stop();
    await nc?.close();
    await sql?.end({ timeout: 5 });
    s3c?.destroy();
    hookServer.close();
    await Promise.all([nats?.dispose(), pg?.dispose(), s3?.dispose()]);
  }, 300_000);

  it('captures samples into sealed dataset parts and attaches an operator label from the agent API', async () => {
    await deploy('press-a', 'v0', {
      enabled: true,
      uncertain: true,
      alerts: true,
      randomRate: 1,
      aroundLabelS: 10,
      includeRaw: true,
      includeFeatures: true,
      maxSamplesPerHour: 100_000,
      maxBytesPerHour: 1e9,
    });
    await deploy('press-b', 'v0', undefined);
    await Promise.all([runs('press-a', 'v0'), runs('press-b', 'v0')]);
    await waitFor(
      '20 sealed rows from plant-a',
      async () => {
        const [r] = await sql<
          { n: number }[]
        >`select coalesce(sum(rows), 0)::int as n from dataset_objects where site_id = 'plant-a'`;
        return r!.n >= 20 ? true : undefined;
      },
      WAIT,
      1000,
    );
    const target = (await predictions('press-a'))[1]!;
    const posted = await fetch(`http://127.0.0.1:${agents['press-a']!.port}/labels`, {
      method: 'POST',
      body: JSON.stringify({
        predictionId: target.predictionId,
        kind: 'false_alarm',
        note: 'e2e check',
        operator: 'ana',
      }),
    });
    expect(posted.status).toBe(201);
    const label = await waitFor(
      'the label in operator_labels',
      async () => (await sql`select * from operator_labels where prediction_id = ${target.predictionId}`)[0],
      WAIT,
      1000,
    );
    expect(label).toMatchObject({ agent_id: 'press-a', kind: 'false_alarm', source: 'agent-api', operator: 'ana' });
    const labelled = await waitFor(
      'a dataset row carrying the label',
      async () => (await rowsOf({ site: 'plant-a' })).find((r) => r.prediction_id === target.predictionId && r.label),
      WAIT,
      1000,
    );
    expect(labelled.label).toBe('false_alarm');
    expect(Object.keys(labelled.features).sort()).toEqual(INPUTS.map((i) => i.name).sort());
    // Raw windows are referenced by S3 key and byte range (float32 little-endian).
    const raw = labelled.raw.find((w) => w.channel === 'pump1.temp_nde')!;
    expect(raw.bytes).toBeGreaterThan(0);
    const blob = await getObject(raw.key);
    expect(blob.length).toBeGreaterThanOrEqual(raw.offset + raw.bytes);
  }, 300_000);

  it('enforces the capture rate limit and counts what it refused', async () => {
    await waitFor(
      'plant-b refusing samples over its hourly limit',
      async () => {
        const text = await (await fetch(`http://127.0.0.1:${agents['press-b']!.port}/metrics`)).text();
        return /mw_agent_capture_limited_total\{limit="samples"\} [1-9]/.test(text) ? true : undefined;
      },
      WAIT,
      1000,
    );
    const rows = await waitFor(
      'the 15 samples plant-b kept, sealed',
      async () => {
        const r = await rowsOf({ site: 'plant-b' });
        return r.length >= 15 ? r : undefined;
      },
      WAIT,
      1000,
    );
    const perHour = new Map<number, number>();
    for (const r of rows)
      perHour.set(Math.floor(r.ts_ms / 3_600_000), (perHour.get(Math.floor(r.ts_ms / 3_600_000)) ?? 0) + 1);
    expect(Math.max(...perHour.values())).toBeLessThanOrEqual(15);
  }, 300_000);

  it('hands a manual request to the example trainer, which registers a version with lineage', async () => {
    // Enough healthy windows for a training reference that ordinary sampling noise does not look like drift.
    await waitFor(
      '60 sealed rows from plant-a',
      async () => {
        const [r] = await sql<
          { n: number }[]
        >`select coalesce(sum(rows), 0)::int as n from dataset_objects where site_id = 'plant-a'`;
        return r!.n >= 60 ? true : undefined;
      },
      WAIT,
      1000,
    );
    const req = await ctlJson<RequestJson>('retraining', 'request', 'press', '--base', 'v0', '--reason', 'bootstrap');
    expect(req).toMatchObject({ status: 'RETRAINING_STATUS_PENDING', trigger: 'manual', baseVersion: 'v0' });
    await runTrainer();
    const done = await request(req.id);
    expect(done.status).toBe('RETRAINING_STATUS_COMPLETED');
    v1 = done.resultVersion!;
    bootstrapSnapshot = req.snapshotId;
    const version = await ctlJson<{
      manifest: { lineage: Record<string, string>; reference: { feature: string; binEdges: number[] }[] };
    }>('models', 'get', 'press', v1);
    expect(version.manifest.lineage).toMatchObject({
      parentVersion: 'v0',
      datasetSnapshotId: req.snapshotId,
      retrainingRequestId: req.id,
    });
    expect(version.manifest.reference.map((r) => r.feature).sort()).toEqual(INPUTS.map((i) => i.name).sort());
  }, 300_000);

  it('stores each snapshot once: its bytes hash to its id, and the same filter yields the same snapshot', async () => {
    const bytes = await getObject(`snapshots/${bootstrapSnapshot}.json`);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(bootstrapSnapshot);
    const manifest = JSON.parse(bytes.toString('utf8')) as { objects: { key: string; sha256: string; rows: number }[] };
    for (const o of manifest.objects) {
      const part = await getObject(o.key);
      expect(createHash('sha256').update(part).digest('hex')).toBe(o.sha256);
      expect(gunzipSync(part).toString('utf8').split('\n').filter(Boolean)).toHaveLength(o.rows);
    }
    const again = await ctlJson<{ id: string; totalRows: number }>('retraining', 'snapshot', 'get', bootstrapSnapshot);
    expect(again.id).toBe(bootstrapSnapshot);

    // Move both agents to v1; once v1 samples are sealed, every v0 record before them is too.
    await deploy('press-a', v1, {
      enabled: true,
      uncertain: false,
      alerts: true,
      randomRate: 0.5,
      aroundLabelS: 0,
      includeRaw: false,
      includeFeatures: true,
      maxSamplesPerHour: 100_000,
      maxBytesPerHour: 1e9,
    });
    await deploy('press-b', v1, undefined);
    await Promise.all([runs('press-a', v1), runs('press-b', v1)]);
    await waitFor(
      'v1 samples sealed',
      async () => ((await rowsOf({ site: 'plant-a', version: v1 })).length > 0 ? true : undefined),
      WAIT,
      1000,
    );
    const window = [
      '--from',
      new Date(Date.now() - 86_400_000).toISOString().slice(0, 10),
      '--to',
      new Date().toISOString(),
    ];
    const first = await ctlJson<{ id: string; totalRows: number }>(
      'retraining',
      'snapshot',
      'create',
      'press',
      '--version',
      'v0',
      ...window,
    );
    const second = await ctlJson<{ id: string; totalRows: number }>(
      'retraining',
      'snapshot',
      'create',
      'press',
      '--version',
      'v0',
      ...window,
    );
    expect(second.id).toBe(first.id);
    expect(first.totalRows).toBeGreaterThan(20);
    const b1 = await getObject(`snapshots/${first.id}.json`);
    expect(createHash('sha256').update(b1).digest('hex')).toBe(first.id);
  }, 300_000);

  it('detects the drifting sensor, raises a request with a snapshot, and the trainer closes the loop', async () => {
    const hook = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/hook`;
    const policy = await ctl(
      'retraining',
      'policy',
      'set',
      'press',
      '--drift-psi',
      '3',
      '--min-samples',
      '40',
      '--window-h',
      '1',
      '--cooldown',
      '0',
      '--snapshot-days',
      '1',
      '--auto-canary=true',
      '--canary-percent',
      '50',
      '--webhook',
      hook,
    );
    expect(policy.code, policy.stderr).toBe(0);
    // The calibration drift starts now, on plant-a only (same data dir: v1 is restored from disk).
    await agents['press-a']!.proc.stop();
    await startAgent('press-a', 'plant-a', true);
    const drift = await waitFor(
      'a drift-triggered request',
      async () =>
        (await ctlJson<RequestJson[]>('retraining', 'ls', '--model', 'press')).find((r) => r.trigger === 'drift'),
      WAIT,
      1000,
    );
    expect(drift.baseVersion).toBe(v1);
    expect(drift.reason).toContain('plant-a');
    expect(drift.reason).toContain(DRIFTING);

    const reports = await ctlJson<{ siteId: string; features: { feature: string; psi: number; samples: number }[] }[]>(
      'retraining',
      'drift',
      'press',
      '--version',
      v1,
      '--since',
      '1h',
    );
    const psiOf = (site: string, feature: string) =>
      reports.find((r) => r.siteId === site)?.features.find((f) => f.feature === feature)?.psi ?? 0;
    expect(psiOf('plant-a', DRIFTING)).toBeGreaterThanOrEqual(3);
    expect(psiOf('plant-a', DRIFTING)).toBeGreaterThan(psiOf('plant-b', DRIFTING));
    expect(psiOf('plant-a', DRIFTING)).toBeGreaterThan(psiOf('plant-a', 'temp_de.rate_of_change'));
    const metrics = await (await fetch(`${cp.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/mw_feature_drift_psi\{[^}]*site="plant-a"/);

    // Published on NATS and POSTed to the policy's webhook.
    const js = jetstream(nc);
    const consumer = await js.consumers.get(subjects.STREAMS.events, { filter_subjects: subjects.events.retraining });
    const events: RetrainingEvent[] = [];
    for await (const m of await consumer.fetch({ max_messages: 10, expires: 3000 })) {
      events.push(RetrainingEvent.decode(m.data));
      if (events.some((e) => e.request?.id === drift.id)) break;
    }
    const event = events.find((e) => e.request?.id === drift.id)!;
    expect(event.snapshot?.id).toBe(drift.snapshotId);
    expect(event.base?.version).toBe(v1);
    await waitFor(
      'the webhook call',
      async () => hooks.find((h) => (h as { request: { id: string } }).request.id === drift.id),
      WAIT,
      500,
    );

    await runTrainer();
    const done = await request(drift.id);
    expect(done.status).toBe('RETRAINING_STATUS_COMPLETED');
    const v2 = await ctlJson<{ manifest: { lineage: Record<string, string> } }>(
      'models',
      'get',
      'press',
      done.resultVersion!,
    );
    expect(v2.manifest.lineage).toMatchObject({
      parentVersion: v1,
      datasetSnapshotId: drift.snapshotId,
      retrainingRequestId: drift.id,
    });
    // The policy's auto-canary: a one-stage rollout of the new version through the rollout controller.
    const rolloutId = /auto-canary started: rollout (\S+)/.exec(done.progressNote ?? '')?.[1];
    expect(rolloutId, done.progressNote).toBeDefined();
    const rollouts = await ctlJson<{ id: string; spec: { model: string; version: string } }[]>(
      'rollouts',
      'ls',
      '--model',
      'press',
    );
    expect(rollouts.find((r) => r.id === rolloutId)?.spec).toMatchObject({
      model: 'press',
      version: done.resultVersion,
    });
  }, 300_000);
});
