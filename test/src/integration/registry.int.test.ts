import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { call, insecure } from '@millwright/control-plane/cli/client.js';
import { loadConfig } from '@millwright/control-plane/config.js';
import { startControlPlane } from '@millwright/control-plane/main.js';
import { verifyEd25519 } from '@millwright/control-plane/registry/signing.js';
import { mlpForward, mlpOnnx, randomMlp, seededRandom } from '@millwright/edge-agent/inference/testkit.js';
import {
  AdminServiceClient,
  type ArtifactManifest,
  ModelRegistryServiceClient,
  ModelRuntime,
  type ModelVersion,
  Role,
  SignedPayload,
} from '@millwright/proto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HARNESS_ADMIN_TOKEN, NatsServer, PostgresServer, REPO_ROOT, S3Server } from '../harness/index.js';

/** grpc-js, borrowed from the control plane (not a test dependency), for the upload stream's bearer token. */
const grpc = createRequire(join(REPO_ROOT, 'control-plane/package.json'))('@grpc/grpc-js') as {
  Metadata: new () => { set(k: string, v: string): void };
};

/** gRPC status codes (stable across implementations). */
const CODE = { INVALID_ARGUMENT: 3, NOT_FOUND: 5, ALREADY_EXISTS: 6, FAILED_PRECONDITION: 9 } as const;
const BUCKET = 'mw-registry-int';
const CHUNK = 1024 * 1024;

interface RpcError {
  code: number;
  field: string | undefined;
}

function logisticArtifact(weights: number[], padTo = 0): Buffer {
  const json = JSON.stringify({ weights, intercept: 0 });
  // Whitespace after the JSON keeps it valid while making the upload span several multipart parts.
  return Buffer.from(json.padEnd(padTo, ' '));
}

function manifest(model: string, version: string, over: Partial<ArtifactManifest> = {}): ArtifactManifest {
  return {
    model,
    version,
    runtime: ModelRuntime.MODEL_RUNTIME_LOGISTIC,
    inputs: [
      { name: 'vib_rms', unit: 'mm/s' },
      { name: 'temp', unit: 'C' },
    ],
    output: { meaning: 'p(fault in 24h)', alertThreshold: 0.8, uncertainLow: 0.4, uncertainHigh: 0.6, onnxOutput: '' },
    selfTest: [
      { inputs: [1, 1], expectedScore: 0.5, tolerance: 1e-9 },
      { inputs: [2, 0], expectedScore: 1 / (1 + Math.exp(-2)), tolerance: 1e-9 },
    ],
    trainingMetrics: { auc: 0.91 },
    lineage: {
      parentVersion: '',
      datasetSnapshotId: 'snap-7',
      trainingRunUrl: 'https://ci/run/7',
      retrainingRequestId: '',
    },
    reference: [],
    sequence: 0,
    description: 'bearing fault classifier',
    ...over,
  };
}

describe('model registry against real Postgres, S3 and the edge runtimes', () => {
  let nats: NatsServer;
  let pg: PostgresServer;
  let s3: S3Server;
  let dbUrl: string;
  let cp: Awaited<ReturnType<typeof startControlPlane>>;
  let client: ModelRegistryServiceClient;
  let s3c: S3Client;
  // The API token named alice: audit entries and alias history name the token's holder.
  const opts = { timeoutMs: 30_000, token: '' };

  beforeAll(async () => {
    [nats, pg, s3] = await Promise.all([NatsServer.start(), PostgresServer.start(), S3Server.start()]);
    dbUrl = await pg.createDatabase();
    const e = s3.endpoint;
    const config = loadConfig({
      env: {
        MW_DATABASE_URL: dbUrl,
        MW_NATS_URL: nats.url,
        MW_GRPC_PORT: '0',
        MW_HTTP_PORT: '0',
        MW_LOG_LEVEL: 'silent',
        MW_S3_ENDPOINT: e.endpoint,
        MW_S3_REGION: e.region,
        MW_S3_BUCKET: BUCKET,
        MW_S3_ACCESS_KEY_ID: e.accessKeyId,
        MW_S3_SECRET_ACCESS_KEY: e.secretAccessKey,
        MW_S3_FORCE_PATH_STYLE: 'true',
        MW_S3_PRESIGN_TTL_S: '120',
        MW_SIGNING_DEV_KEY_DIR: await mkdtemp(join(tmpdir(), 'mw-signing-')),
        MW_AUTH_BOOTSTRAP_ADMIN_TOKEN_FILE: await adminTokenFile(),
      },
      readFile: (p) => readFileSync(p, 'utf8'),
    });
    cp = await startControlPlane(config);
    client = new ModelRegistryServiceClient(`127.0.0.1:${cp.grpcPort}`, insecure());
    const admin = new AdminServiceClient(`127.0.0.1:${cp.grpcPort}`, insecure());
    const alice = await call(
      admin,
      admin.createApiToken,
      { name: 'alice', role: Role.ROLE_PLATFORM, ttlS: 0 },
      { timeoutMs: 30_000, token: HARNESS_ADMIN_TOKEN },
    );
    admin.close();
    opts.token = alice.secret;
    s3c = new S3Client({
      endpoint: e.endpoint,
      region: e.region,
      forcePathStyle: true,
      credentials: { accessKeyId: e.accessKeyId, secretAccessKey: e.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    await call(client, client.createModel, { name: 'pump', description: 'pump bearings' }, opts);
  });

  afterAll(async () => {
    client?.close();
    s3c?.destroy();
    await cp?.stop();
    await Promise.all([nats?.dispose(), pg?.dispose(), s3?.dispose()]);
  });

  function upload(m: ArtifactManifest, bytes: Uint8Array, expectedSha256 = ''): Promise<ModelVersion> {
    return new Promise((resolve, reject) => {
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${opts.token}`);
      const stream = client.uploadVersion(md as never, (err, res) => (err ? reject(err) : resolve(res)));
      stream.write({ part: { $case: 'manifest', value: m }, expectedSha256 });
      for (let off = 0; off < bytes.length; off += CHUNK) {
        stream.write({
          part: { $case: 'chunk', value: Buffer.from(bytes.subarray(off, off + CHUNK)) },
          expectedSha256: '',
        });
      }
      stream.end();
    });
  }

  async function uploadError(m: ArtifactManifest, bytes: Uint8Array): Promise<RpcError> {
    const err = (await upload(m, bytes).then(
      () => undefined,
      (e: unknown) => e,
    )) as { code: number; metadata: { get(k: string): unknown[] } } | undefined;
    if (!err) throw new Error('upload succeeded');
    return { code: err.code, field: err.metadata.get('mw-field')[0] as string | undefined };
  }

  async function keys(prefix: string): Promise<string[]> {
    const res = await s3c.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
    return (res.Contents ?? []).map((o) => o.Key!);
  }

  const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

  let v1: ModelVersion;
  const artifact = logisticArtifact([1, -1], 12 * 1024 * 1024 + 17);

  it('stores a pushed artifact byte for byte (multipart) and serves it by presigned URL', async () => {
    v1 = await upload(manifest('pump', '1.0.0'), artifact, sha256(artifact));
    expect(v1).toMatchObject({ sha256: sha256(artifact), sizeBytes: artifact.length, createdBy: 'alice' });
    expect(v1.artifactKey).toBe(`artifacts/pump/1.0.0/${sha256(artifact)}`);
    expect(v1.manifest?.sequence).toBe(1);
    const obj = await s3c.send(new GetObjectCommand({ Bucket: BUCKET, Key: v1.artifactKey }));
    expect(Buffer.from(await obj.Body!.transformToByteArray()).equals(artifact)).toBe(true);
    const { url, expiresAtMs } = await call(client, client.getArtifactUrl, { model: 'pump', version: '1.0.0' }, opts);
    expect(expiresAtMs).toBeGreaterThan(Date.now() + 60_000);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(artifact)).toBe(true);
    expect(await keys('uploads/')).toEqual([]);
  });

  it('signs the version with a listed trust key, and the signature fails on a tampered payload', async () => {
    const { keys: trust } = await call(client, client.listTrustKeys, {}, opts);
    const key = trust.find((k) => k.keyId === v1.signature?.keyId);
    expect(key?.active).toBe(true);
    const payload = Buffer.from(v1.signature!.payload, 'base64');
    const signature = Buffer.from(v1.signature!.signature, 'base64');
    expect(verifyEd25519(key!.publicKey, payload, signature)).toBe(true);
    const signed = SignedPayload.decode(payload);
    expect(signed).toMatchObject({ sha256: v1.sha256, sizeBytes: artifact.length, rollback: false });
    expect(signed.manifest).toMatchObject({ model: 'pump', version: '1.0.0', sequence: 1 });
    const tampered = Buffer.from(payload);
    tampered[tampered.length - 1]! ^= 1;
    expect(verifyEd25519(key!.publicKey, tampered, signature)).toBe(false);
  });

  it('rejects a manifest whose self-test fails and leaves no object behind', async () => {
    const bad = manifest('pump', '1.0.1', { selfTest: [{ inputs: [1, 1], expectedScore: 0.9, tolerance: 0.01 }] });
    expect(await uploadError(bad, logisticArtifact([1, -1]))).toEqual({
      code: CODE.INVALID_ARGUMENT,
      field: 'manifest.self_test[0]',
    });
    expect(await keys('artifacts/pump/1.0.1/')).toEqual([]);
    expect(await keys('uploads/')).toEqual([]);
  });

  it('rejects an artifact narrower than the manifest, naming the inputs', async () => {
    const wide = manifest('pump', '1.0.2', {
      inputs: [
        { name: 'a', unit: '' },
        { name: 'b', unit: '' },
        { name: 'c', unit: '' },
      ],
      selfTest: [{ inputs: [0, 0, 0], expectedScore: 0.5, tolerance: 0.1 }],
    });
    expect(await uploadError(wide, logisticArtifact([1, -1]))).toEqual({
      code: CODE.INVALID_ARGUMENT,
      field: 'manifest.inputs',
    });
    expect(await keys('artifacts/pump/1.0.2/')).toEqual([]);
  });

  it('answers ALREADY_EXISTS for a second upload of a version and FAILED_PRECONDITION for an unknown model', async () => {
    expect((await uploadError(manifest('pump', '1.0.0'), logisticArtifact([1, -1]))).code).toBe(CODE.ALREADY_EXISTS);
    expect((await uploadError(manifest('fan', '1.0.0'), logisticArtifact([1, -1]))).code).toBe(
      CODE.FAILED_PRECONDITION,
    );
  });

  it('registers an ONNX model after running its self-test in onnxruntime', async () => {
    const mlp = randomMlp(seededRandom(3), [2, 4, 1], 'sigmoid');
    const selfTest = [
      [0.1, 0.2],
      [1, -1],
    ].map((x) => ({ inputs: x, expectedScore: mlpForward(mlp, x)[0]!, tolerance: 1e-5 }));
    const m = manifest('pump', '2.0.0-onnx', { runtime: ModelRuntime.MODEL_RUNTIME_ONNX, selfTest });
    const v = await upload(m, mlpOnnx(mlp));
    expect(v.manifest?.sequence).toBe(2);
  });

  it('records alias moves with actor and reason in the alias history and the audit log, and resolves aliases', async () => {
    await call(
      client,
      client.setAlias,
      { model: 'pump', alias: 'production', version: '1.0.0', reason: 'first' },
      opts,
    );
    const model = await call(
      client,
      client.setAlias,
      { model: 'pump', alias: 'production', version: '2.0.0-onnx', reason: 'onnx is faster' },
      opts,
    );
    expect(model.aliases).toEqual({ production: '2.0.0-onnx' });
    const byAlias = await call(client, client.getVersion, { model: 'pump', version: 'production' }, opts);
    expect(byAlias).toMatchObject({ version: '2.0.0-onnx', aliases: ['production'] });
    const { changes } = await call(client, client.listAliasHistory, { model: 'pump', alias: 'production' }, opts);
    expect(changes.map((c) => [c.fromVersion, c.toVersion, c.actor, c.reason])).toEqual([
      ['1.0.0', '2.0.0-onnx', 'alice', 'onnx is faster'],
      ['', '1.0.0', 'alice', 'first'],
    ]);
    const sql = postgres(dbUrl, { max: 1 });
    try {
      const rows = await sql<{ actor: string; reason: string; detail: { from: string; to: string } }[]>`
        select actor, reason, detail from audit_log where action = 'model.alias.set' order by id`;
      expect(rows.map((r) => [r.actor, r.reason, r.detail.from, r.detail.to])).toEqual([
        ['alice', 'first', '', '1.0.0'],
        ['alice', 'onnx is faster', '1.0.0', '2.0.0-onnx'],
      ]);
    } finally {
      await sql.end();
    }
  });

  it('pages versions newest first with their lineage', async () => {
    await call(client, client.createModel, { name: 'fan', description: '' }, opts);
    for (let i = 1; i <= 5; i++) {
      await upload(
        manifest('fan', `0.${i}`, {
          lineage: {
            parentVersion: i > 1 ? `0.${i - 1}` : '',
            datasetSnapshotId: `s${i}`,
            trainingRunUrl: '',
            retrainingRequestId: '',
          },
        }),
        logisticArtifact([1, -1]),
      );
    }
    const seen: [string, string][] = [];
    let pageToken = '';
    let pages = 0;
    do {
      const res = await call(client, client.listVersions, { model: 'fan', page: { pageSize: 2, pageToken } }, opts);
      seen.push(...res.versions.map((v): [string, string] => [v.version, v.manifest?.lineage?.parentVersion ?? '']));
      expect(res.page?.total).toBe(5);
      pageToken = res.page?.nextPageToken ?? '';
      pages++;
    } while (pageToken);
    expect(pages).toBe(3);
    expect(seen).toEqual([
      ['0.5', '0.4'],
      ['0.4', '0.3'],
      ['0.3', '0.2'],
      ['0.2', '0.1'],
      ['0.1', ''],
    ]);
  });
});

async function adminTokenFile(): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'mw-admin-')), 'token');
  await writeFile(file, HARNESS_ADMIN_TOKEN);
  return file;
}
