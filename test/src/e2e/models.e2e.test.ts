import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ControlPlaneProcess,
  mwctl,
  NatsServer,
  PostgresServer,
  S3Server,
  spawnControlPlane,
} from '../harness/index.js';

describe('mwctl models: push an artifact through the real binaries and read it back', () => {
  let nats: NatsServer;
  let pg: PostgresServer;
  let s3: S3Server;
  let cp: ControlPlaneProcess;
  let dir: string;
  let botToken = '';
  const artifact = Buffer.from(`${JSON.stringify({ weights: [0.5, -0.25, 2], intercept: -1 })}\n`);
  const sha256 = createHash('sha256').update(artifact).digest('hex');

  beforeAll(async () => {
    [nats, pg, s3] = await Promise.all([NatsServer.start(), PostgresServer.start(), S3Server.start()]);
    dir = await mkdtemp(join(tmpdir(), 'mw-models-e2e-'));
    const e = s3.endpoint;
    cp = await spawnControlPlane({
      MW_DATABASE_URL: await pg.createDatabase(),
      MW_NATS_URL: nats.url,
      MW_S3_ENDPOINT: e.endpoint,
      MW_S3_REGION: e.region,
      MW_S3_BUCKET: 'mw-e2e',
      MW_S3_ACCESS_KEY_ID: e.accessKeyId,
      MW_S3_SECRET_ACCESS_KEY: e.secretAccessKey,
      MW_S3_FORCE_PATH_STYLE: 'true',
      MW_SIGNING_DEV_KEY_DIR: join(dir, 'keys'),
    });
    // The acting user in audit entries and alias history is the API token's name.
    const bot = await mwctl([
      'tokens-api',
      'create',
      'e2e-bot',
      '--role',
      'platform',
      '--json',
      '--server',
      cp.grpcAddr,
    ]);
    botToken = (JSON.parse(bot.stdout) as { secret: string }).secret;
    await writeFile(join(dir, 'model.json'), artifact);
    // The documented manifest format: proto3 JSON of ArtifactManifest (docs/CLI.md).
    const margin = (x: number[]) => -1 + 0.5 * x[0]! - 0.25 * x[1]! + 2 * x[2]!;
    await writeFile(
      join(dir, 'manifest.json'),
      JSON.stringify({
        runtime: 'MODEL_RUNTIME_LINEAR',
        inputs: [
          { name: 'vib_rms', unit: 'mm/s' },
          { name: 'temp', unit: 'C' },
          { name: 'kurtosis', unit: '' },
        ],
        output: { meaning: 'wear index', alertThreshold: 3 },
        selfTest: [
          { inputs: [0, 0, 0], expectedScore: margin([0, 0, 0]), tolerance: 1e-9 },
          { inputs: [2, 4, 1], expectedScore: margin([2, 4, 1]), tolerance: 1e-9 },
        ],
        lineage: { datasetSnapshotId: 'snap-1' },
      }),
    );
  });

  afterAll(async () => {
    await cp?.proc.stop();
    await Promise.all([nats?.dispose(), pg?.dispose(), s3?.dispose()]);
  });

  const ctl = (...args: string[]) => mwctl([...args, '--server', cp.grpcAddr], { MW_TOKEN: botToken });

  it('pushes with --create, prints one progress line off a terminal, and reads the version back', async () => {
    const push = await ctl(
      'models',
      'push',
      'press',
      '1.0.0',
      '--artifact',
      join(dir, 'model.json'),
      '--manifest',
      join(dir, 'manifest.json'),
      '--create',
      '--json',
    );
    expect(push.code, push.stderr).toBe(0);
    expect(push.stderr.trim()).toMatch(/^uploaded \d+ B in [\d.]+ s \(.+\/s\)$/);
    expect(JSON.parse(push.stdout)).toMatchObject({ model: 'press', version: '1.0.0', sha256, createdBy: 'e2e-bot' });

    const get = await ctl('models', 'get', 'press', '1.0.0', '--json');
    expect(get.code).toBe(0);
    const version = JSON.parse(get.stdout) as { sizeBytes: number; manifest: { sequence: number; runtime: string } };
    expect(version).toMatchObject({
      sizeBytes: artifact.length,
      manifest: { sequence: 1, runtime: 'MODEL_RUNTIME_LINEAR' },
    });

    const url = await ctl('models', 'url', 'press', '1.0.0');
    expect(url.code).toBe(0);
    const body = Buffer.from(await (await fetch(url.stdout.trim())).arrayBuffer());
    expect(body.equals(artifact)).toBe(true);
  });

  it('moves an alias with a reason and shows it in tables', async () => {
    const noReason = await ctl('models', 'alias', 'press', 'production', '1.0.0');
    expect(noReason.code).toBe(2);
    const alias = await ctl('models', 'alias', 'press', 'production', '1.0.0', '--reason', 'first release');
    expect(alias.code, alias.stderr).toBe(0);
    const history = await ctl('models', 'alias-history', 'press', 'production');
    expect(history.stdout).toMatch(/production\s.*1\.0\.0\s.*e2e-bot\s.*first release/);
    const versions = await ctl('models', 'versions', 'press');
    expect(versions.stdout).toMatch(/1\.0\.0\s.*linear\s.*production\s.*snap-1/);
    const models = await ctl('models', 'ls');
    expect(models.stdout).toMatch(/press\s.*1\s.*production=1\.0\.0/);
  });

  it('lists the signing key that signed the version', async () => {
    const keys = JSON.parse((await ctl('models', 'keys', '--json')).stdout) as { keyId: string; active?: boolean }[];
    const version = JSON.parse((await ctl('models', 'get', 'press', 'production', '--json')).stdout) as {
      signature: { keyId: string };
    };
    expect(keys).toEqual([expect.objectContaining({ keyId: version.signature.keyId, active: true })]);
  });

  it('exits 7 on a duplicate version and 4 naming the field on a failing self-test', async () => {
    const args = ['--artifact', join(dir, 'model.json'), '--manifest', join(dir, 'manifest.json')];
    const dup = await ctl('models', 'push', 'press', '1.0.0', ...args);
    expect(dup.code).toBe(7);
    expect(dup.stderr).toMatch(/ALREADY_EXISTS/);
    await writeFile(
      join(dir, 'bad.json'),
      JSON.stringify({
        runtime: 'MODEL_RUNTIME_LINEAR',
        inputs: [{ name: 'a' }, { name: 'b' }, { name: 'c' }],
        output: {},
        selfTest: [{ inputs: [0, 0, 0], expectedScore: 5, tolerance: 0.1 }],
      }),
    );
    const bad = await ctl(
      'models',
      'push',
      'press',
      '1.0.1',
      '--artifact',
      join(dir, 'model.json'),
      '--manifest',
      join(dir, 'bad.json'),
    );
    expect(bad.code).toBe(4);
    expect(bad.stderr).toMatch(/field: manifest\.self_test\[0\]/);
  });
});
