import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DesiredState, ModelStatePhase, modelStatePhaseFromJSON, subjects, type TrustBundle } from '@millwright/proto';
import { type KV, Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ControlPlaneProcess,
  type ManagedProcess,
  mwctl,
  NatsServer,
  PostgresServer,
  S3Server,
  spawnAgent,
  spawnControlPlane,
  waitFor,
} from '../harness/index.js';
import { createToken, Role } from './support.js';

const SITE = 'plant-k';
const AGENT = 'k1';
const BUCKET = 'mw-keys';
const SLOW = 180_000;

interface KeyJson {
  keyId: string;
  publicKey: string;
  active?: boolean;
  revokedAtMs?: number | string;
  revokedReason?: string;
}
interface VersionJson {
  version: string;
  artifactKey: string;
  signature: { keyId: string; signature: string; payload: string };
}
interface AgentJson {
  runningModelVersion?: string;
  modelState?: { phase?: string | number; version?: string; reason?: string };
}

/**
 * Signing-key rotation and revocation end to end: real nats-server, PostgreSQL, s3rver, control plane,
 * mwctl and an enrolled agent. The attacks at the end write the agent's desired state straight into
 * KV, as someone able to replay old values or swap an artifact in the bucket could.
 */
describe('signing-key rotation and revocation with a real agent', () => {
  let nats: NatsServer;
  let pg: PostgresServer;
  let s3: S3Server;
  let cp: ControlPlaneProcess;
  let agent: ManagedProcess;
  let agentEnv: Record<string, string>;
  let nc: NatsConnection;
  let kv: KV;
  let dir: string;
  let firstKey: KeyJson;
  let secondKey: KeyJson;
  let firstBundle: TrustBundle | undefined;

  const ctl = (...args: string[]) => mwctl([...args, '--server', cp.grpcAddr]);
  const ok = async (...args: string[]) => {
    const res = await ctl(...args);
    if (res.code !== 0) throw new Error(`mwctl ${args.join(' ')} exited ${res.code}: ${res.stderr}`);
    return res.stdout;
  };
  const json = async <T>(...args: string[]) => JSON.parse(await ok(...args, '--json')) as T;
  const agentState = () => json<AgentJson>('fleet', 'get', AGENT);
  const keys = () => json<KeyJson[]>('models', 'keys');

  async function push(version: string, intercept: number): Promise<VersionJson> {
    const artifact = join(dir, `model-${version}.json`);
    const manifest = join(dir, `manifest-${version}.json`);
    await writeFile(artifact, JSON.stringify({ weights: [1], intercept }));
    await writeFile(
      manifest,
      JSON.stringify({
        runtime: 'MODEL_RUNTIME_LINEAR',
        inputs: [{ name: 'vib_h.rms', unit: 'g' }],
        output: { meaning: 'wear index', alertThreshold: 1000 },
        selfTest: [{ inputs: [1], expectedScore: intercept + 1, tolerance: 1e-9 }],
      }),
    );
    await ok('models', 'push', 'press', version, '--artifact', artifact, '--manifest', manifest, '--create');
    return json<VersionJson>('models', 'get', 'press', version);
  }

  async function rollOut(version: string): Promise<void> {
    const r = await json<{ id: string }>(
      'rollouts',
      ...['start', '--model', 'press', '--version', version, '--stages', '100:0'],
      ...['--gate', 'active_fraction>=1:1', '--reason', `deploy ${version}`],
    );
    await waitFor(
      `rollout of ${version} succeeded`,
      async () => {
        const s = await json<{ rollout: { status: string; statusReason?: string } }>('rollouts', 'status', r.id);
        if (/ROLLED_BACK|ABORTED|FAILED|PAUSED/.test(s.rollout.status)) {
          throw new Error(`rollout ${r.id} ended ${s.rollout.status}: ${s.rollout.statusReason}`);
        }
        return s.rollout.status === 'ROLLOUT_STATUS_SUCCEEDED' ? true : undefined;
      },
      SLOW,
      500,
    );
    await untilRunning(version);
  }

  const untilRunning = (version: string) =>
    waitFor(
      `${AGENT} running ${version}`,
      async () => ((await agentState()).runningModelVersion === version ? true : undefined),
      SLOW,
      250,
    );

  /** Waits for the agent's reported state of `version` and returns it. */
  const untilReported = (version: string, reason: RegExp) =>
    waitFor(
      `${AGENT} reporting ${version} with ${reason}`,
      async () => {
        const s = (await agentState()).modelState;
        return s?.version === version && reason.test(s.reason ?? '') ? s : undefined;
      },
      SLOW,
      250,
    );

  /** The agent's desired state as the control plane last wrote it. */
  async function currentDesired(): Promise<DesiredState> {
    const e = await kv.get(subjects.agentKey(SITE, AGENT));
    if (!e) throw new Error('no desired state in KV');
    return DesiredState.decode(e.value);
  }

  /** Writes a desired state straight into KV: one generation above the current one. */
  async function forgeDesired(change: (d: DesiredState) => DesiredState): Promise<number> {
    const cur = await currentDesired();
    const next = change({ ...cur, generation: cur.generation + 1, reason: 'forged by the test' });
    await kv.put(subjects.agentKey(SITE, AGENT), DesiredState.encode(next).finish());
    return next.generation;
  }

  async function desiredModel(v: VersionJson) {
    const url = await json<{ url: string; expiresAtMs: string }>('models', 'url', 'press', v.version);
    return {
      model: 'press',
      version: v.version,
      artifactUrl: url.url,
      urlExpiresAtMs: Number(url.expiresAtMs),
      sha256: '',
      sizeBytes: 0,
      signature: v.signature,
    };
  }

  beforeAll(async () => {
    [nats, pg, s3] = await Promise.all([NatsServer.start(), PostgresServer.start(), S3Server.start()]);
    dir = await mkdtemp(join(tmpdir(), 'mw-key-rotation-'));
    const e = s3.endpoint;
    cp = await spawnControlPlane(
      {
        MW_DATABASE_URL: await pg.createDatabase(),
        MW_NATS_URL: nats.url,
        MW_S3_ENDPOINT: e.endpoint,
        MW_S3_REGION: e.region,
        MW_S3_BUCKET: BUCKET,
        MW_S3_ACCESS_KEY_ID: e.accessKeyId,
        MW_S3_SECRET_ACCESS_KEY: e.secretAccessKey,
        MW_S3_FORCE_PATH_STYLE: 'true',
        MW_SIGNING_DEV_KEY_DIR: join(dir, 'keys'),
        MW_HEALTH_STALE_AFTER_S: '2',
        MW_HEALTH_OFFLINE_AFTER_S: '4',
        MW_LEADER_RETRY_S: '1',
        MW_ROLLOUTS_TICK_MS: '500',
        MW_INGEST_HEARTBEAT_FLUSH_MS: '100',
        MW_SIGNING_TRUST_SWEEP_S: '1',
      },
      'cp-keys',
    );
    nc = await connect({ servers: nats.url, inboxPrefix: subjects.inboxPrefix('key-rotation-test') });
    kv = await new Kvm(nc).open(subjects.KV.desired);
    await ok('sites', 'create', SITE);
    await push('1.0.0', 0);
    // Never deployed: after the revocation it is signed only by a revoked key.
    await push('1.1.0', 0.5);
    firstKey = (await keys())[0]!;
    const token = await json<{ token: string }>('tokens', 'create', '--site', SITE);
    const dataDir = await mkdtemp(join(tmpdir(), `mw-${AGENT}-`));
    await writeFile(join(dataDir, 'bootstrap-token'), `${token.token}\n`);
    agentEnv = {
      MW_AGENT_ID: AGENT,
      MW_SITE_ID: SITE,
      MW_LINE_ID: 'L1',
      MW_NATS_URL: nats.url,
      MW_DATA_DIR: dataDir,
      MW_ENROLL_BOOTSTRAP_TOKEN_FILE: join(dataDir, 'bootstrap-token'),
      // Pinned in config as well as learnt at enrollment: the revocation below must win over the pin.
      MW_TRUST_KEYS: JSON.stringify([firstKey!.publicKey]),
      MW_HEARTBEAT_INTERVAL_S: '0.5',
      MW_UPDATE_SWITCH_CHECK_S: '1',
      MW_UPDATE_RETRY_BACKOFF_MIN_MS: '200',
      MW_UPDATE_RETRY_BACKOFF_MAX_MS: '2000',
      MW_FEATURES_VIBRATION_WINDOW_SIZE: '256',
      MW_SOURCES: JSON.stringify([
        {
          type: 'simulator',
          id: 'sim',
          seed: 7,
          assets: [{ name: 'pump1', vibrationRateHz: 2560, bearingFault: null, spikes: null }],
        },
      ]),
    };
    agent = await spawnAgent(agentEnv, AGENT);
  }, 300_000);

  afterAll(async () => {
    await agent?.stop();
    await nc?.close();
    await cp?.proc.stop();
    await Promise.all([nats?.dispose(), pg?.dispose(), s3?.dispose()]);
  }, 120_000);

  it('deploys a version signed by the first key to the enrolled agent', async () => {
    expect(firstKey).toMatchObject({ active: true });
    await rollOut('1.0.0');
  }, 300_000);

  it('lets only admins rotate or revoke keys', async () => {
    const platform = await createToken(cp.grpcAddr, cp.adminToken, 'platform-ops', Role.ROLE_PLATFORM);
    for (const args of [
      ['models', 'keys', 'rotate', '--reason', 'r'],
      ['models', 'keys', 'revoke', firstKey.keyId, '--reason', 'r'],
    ]) {
      const res = await mwctl([...args, '--server', cp.grpcAddr], { MW_TOKEN: platform });
      expect(res.code).toBe(6);
      expect(res.stderr).toMatch(/PERMISSION_DENIED/);
    }
    expect((await keys()).map((k) => k.keyId)).toEqual([firstKey.keyId]);
  });

  it('rotates the key: the running agent accepts a version signed by the new key without a restart', async () => {
    const pid = agent.pid;
    const rotated = await json<{
      key: KeyJson;
      previous: KeyJson;
      bundleSequence: number;
      resignedVersions: string[];
      agents: number;
    }>('models', 'keys', 'rotate', '--reason', 'yearly rotation');
    secondKey = rotated.key;
    expect(secondKey.keyId).not.toBe(firstKey.keyId);
    expect(rotated.previous.keyId).toBe(firstKey.keyId);
    expect(Number(rotated.bundleSequence)).toBe(1);
    expect(rotated.resignedVersions).toEqual(['press@1.0.0']);
    expect(rotated.agents).toBe(1);
    const listed = await keys();
    expect(listed.map((k) => [k.keyId, k.active ?? false, Number(k.revokedAtMs ?? 0)])).toEqual([
      [firstKey.keyId, false, 0],
      [secondKey.keyId, true, 0],
    ]);

    await agent.waitForOutput(/"sequence":1,[^\n]*"msg":"trust\.bundle\.accepted"/, SLOW);
    await agent.waitForOutput(new RegExp(`"keyId":"${secondKey.keyId}"[^\\n]*update\\.signature\\.adopted`), SLOW);
    // Delivered by the rotation itself, not left for the controller's repair pass.
    expect(cp.proc.stdout).toMatch(/registry\.trust\.bundle_issued/);
    expect(cp.proc.stdout).not.toMatch(/rollout\.desired\.kv_repair/);
    firstBundle = (await currentDesired()).trust;
    expect(firstBundle?.signatures.map((s) => s.keyId).sort()).toEqual([firstKey.keyId, secondKey.keyId].sort());

    const v2 = await push('2.0.0', 0.25);
    expect(v2.signature.keyId).toBe(secondKey.keyId);
    await rollOut('2.0.0');
    expect(agent.pid).toBe(pid);

    const audit = await json<{ actor: string; action: string; reason: string }[]>(
      'audit',
      'ls',
      '--action',
      'signing_key',
    );
    expect(audit).toEqual([
      expect.objectContaining({
        actor: 'bootstrap-admin',
        action: 'signing_key.rotate',
        target: `signing_key/${secondKey.keyId}`,
        reason: 'yearly rotation',
      }),
    ]);
  }, 400_000);

  it('revokes the old key: the registry refuses versions signed only by it', async () => {
    const active = await ctl('models', 'keys', 'revoke', secondKey.keyId, '--reason', 'oops');
    expect(active.code).toBe(7);
    expect(active.stderr).toMatch(/FAILED_PRECONDITION: .*is the active signing key: rotate to a new key first/);

    const revoked = await json<{ bundleSequence: number; unusableVersions: string[] }>(
      'models',
      ...['keys', 'revoke', firstKey.keyId, '--reason', 'key file found on a stolen laptop'],
    );
    expect(Number(revoked.bundleSequence)).toBe(2);
    expect(revoked.unusableVersions).toEqual(['press@1.1.0']);
    const first = (await keys()).find((k) => k.keyId === firstKey.keyId);
    expect(first).toMatchObject({ revokedReason: 'key file found on a stolen laptop' });
    expect(Number(first?.revokedAtMs)).toBeGreaterThan(0);

    const start = await ctl('rollouts', 'start', '--model', 'press', '--version', '1.1.0', '--stages', '100:0');
    expect(start.code).toBe(7);
    expect(start.stderr).toContain(`press@1.1.0 is signed only by revoked key ${firstKey.keyId}`);
    const alias = await ctl('models', 'alias', 'press', 'production', '1.1.0', '--reason', 'try');
    expect(alias.code).toBe(7);
    expect(alias.stderr).toContain(`signed only by revoked key ${firstKey.keyId}`);

    await agent.waitForOutput(/"sequence":2,[^\n]*"msg":"trust\.bundle\.accepted"/, SLOW);
    await agent.waitForOutput(/trust\.pinned_key_revoked/, SLOW);
    const audit = await json<{ action: string; target: string; reason: string }[]>(
      'audit',
      'ls',
      '--action',
      'signing_key.revoke',
    );
    expect(audit).toEqual([
      expect.objectContaining({ target: `signing_key/${firstKey.keyId}`, reason: 'key file found on a stolen laptop' }),
    ]);
  }, 300_000);

  it('gives an agent enrolled after the revocation the newest bundle, over the key pinned in its config', async () => {
    const token = await json<{ token: string }>('tokens', 'create', '--site', SITE);
    const dataDir = await mkdtemp(join(tmpdir(), 'mw-k2-'));
    await writeFile(join(dataDir, 'bootstrap-token'), `${token.token}\n`);
    const late = await spawnAgent(
      {
        ...agentEnv,
        MW_AGENT_ID: 'k2',
        MW_DATA_DIR: dataDir,
        MW_ENROLL_BOOTSTRAP_TOKEN_FILE: join(dataDir, 'bootstrap-token'),
      },
      'k2',
    );
    try {
      await late.waitForOutput(/"trustKeys":1,[^\n]*"msg":"agent\.enrolled"/, 30_000);
      await late.waitForOutput(/"sequence":2,[^\n]*"msg":"trust\.bundle\.accepted"/, SLOW);
      await late.waitForOutput(/trust\.pinned_key_revoked/, SLOW);
    } finally {
      await late.stop();
    }
  }, 300_000);

  it('keeps the revocation over a restart and refuses an artifact signed by the revoked key at the edge', async () => {
    await agent.stop();
    agent = await spawnAgent(agentEnv, AGENT);
    await agent.waitForOutput(/"sequence":2,[^\n]*"msg":"trust\.bundle\.restored"/, 30_000);
    await agent.waitForOutput(/"version":"2\.0\.0"[^\n]*update\.restored/, 30_000);

    const v11 = await json<VersionJson>('models', 'get', 'press', '1.1.0');
    expect(v11.signature.keyId).toBe(firstKey.keyId);
    const model = await desiredModel(v11);
    await forgeDesired((d) => ({ ...d, model, rolloutId: '' }));
    const s = await untilReported('1.1.0', new RegExp(`revoked key ${firstKey.keyId}`));
    expect(modelStatePhaseFromJSON(s.phase)).toBe(ModelStatePhase.MODEL_STATE_PHASE_FAILED);
    expect((await agentState()).runningModelVersion).toBe('2.0.0');
  }, 300_000);

  it('refuses a replayed older signed manifest, a replayed trust bundle and a tampered artifact', async () => {
    // 1.0.0 with its genuine signature (re-signed by the new key at the rotation), but not a signed rollback.
    const v1 = await desiredModel(await json<VersionJson>('models', 'get', 'press', '1.0.0'));
    expect(v1.signature.keyId).toBe(secondKey.keyId);
    await forgeDesired((d) => ({ ...d, model: v1 }));
    const replay = await untilReported('1.0.0', /rollback/);
    expect(modelStatePhaseFromJSON(replay.phase)).toBe(ModelStatePhase.MODEL_STATE_PHASE_FAILED);
    expect(replay.reason).toMatch(/refusing 1\.0\.0 \(sequence 1\) over 2\.0\.0 \(sequence 3\): not a signed rollback/);

    const v3 = await push('3.0.0', 0.125);
    const inEffect = (await currentDesired()).trust;
    // A replayed (or, after a database restore, re-issued) older bundle is ignored, not a failure: the
    // newer trust set stays and the rest of the desired state goes ahead.
    const v2 = await desiredModel(await json<VersionJson>('models', 'get', 'press', '2.0.0'));
    await forgeDesired((d) => ({ ...d, model: v2, trust: firstBundle }));
    const stale = await untilReported('2.0.0', /already active/);
    expect(modelStatePhaseFromJSON(stale.phase)).toBe(ModelStatePhase.MODEL_STATE_PHASE_ACTIVE);
    await agent.waitForOutput(/"sequence":1,"held":2,[^\n]*trust\.bundle\.stale_ignored/, SLOW);

    const bucket = new S3Client({
      endpoint: s3.endpoint.endpoint,
      region: s3.endpoint.region,
      credentials: { accessKeyId: s3.endpoint.accessKeyId, secretAccessKey: s3.endpoint.secretAccessKey },
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const stored = await bucket.send(new GetObjectCommand({ Bucket: BUCKET, Key: v3.artifactKey }));
    const bytes = Buffer.from(await stored.Body!.transformToByteArray());
    bytes[bytes.length - 2] = bytes[bytes.length - 2]! === 0x35 ? 0x36 : 0x35;
    await bucket.send(new PutObjectCommand({ Bucket: BUCKET, Key: v3.artifactKey, Body: bytes }));
    bucket.destroy();
    const model = await desiredModel(v3);
    await forgeDesired((d) => ({ ...d, model, trust: inEffect }));
    const tampered = await untilReported('3.0.0', /differs from the signed/);
    expect(modelStatePhaseFromJSON(tampered.phase)).toBe(ModelStatePhase.MODEL_STATE_PHASE_FAILED);
    expect((await agentState()).runningModelVersion).toBe('2.0.0');
  }, 300_000);
});
