/**
 * Signing-key changes against a real PostgreSQL, interleaved with the other writers they meet: rollout
 * writes of desired states, the trust sweep and uploads. Each race is forced deterministically: one
 * side is held at a gate (in the middle of its transaction) until the other is seen waiting for a
 * lock in pg_locks (or has finished), then released; both must commit, one after the other.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import {
  encodeSignedPayload,
  encodeTrustBundlePayload,
} from '@millwright/control-plane/adapters/grpc/registry-mapping.js';
import { toProto } from '@millwright/control-plane/adapters/nats/desired-writer.js';
import { type DbHandle, openDb, runMigrations, type Sql } from '@millwright/control-plane/adapters/postgres/db.js';
import { PostgresDesiredStore } from '@millwright/control-plane/adapters/postgres/desired-store.js';
import { PostgresRegistryStore } from '@millwright/control-plane/adapters/postgres/registry-store.js';
import { PostgresSigningKeyStore } from '@millwright/control-plane/adapters/postgres/signing-key-store.js';
import type { Manifest, ModelVersion } from '@millwright/control-plane/registry/domain.js';
import { FakeArtifactVerifier, InMemoryArtifactStore } from '@millwright/control-plane/registry/fakes.js';
import { Keyring } from '@millwright/control-plane/registry/keyring.js';
import { SigningKeyService } from '@millwright/control-plane/registry/keys.js';
import type { SigningKeyStore, SigningKeyTx } from '@millwright/control-plane/registry/ports.js';
import { RegistryService } from '@millwright/control-plane/registry/service.js';
import { verifyEd25519 } from '@millwright/control-plane/registry/signing.js';
import type { DesiredModelRef, DesiredSpec } from '@millwright/control-plane/rollouts/ports.js';
import { wireRegistry } from '@millwright/control-plane/wire-registry.js';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PostgresServer, waitFor } from '../harness/index.js';

const log = pino({ level: 'silent' });
const caller = { actor: 'alice', source: 'test' };
const SITE = 'plant-l';

/** Resolves `reached` when the held side arrives; it goes on once `open` is called. */
function gate() {
  let reached!: () => void;
  let open!: () => void;
  const at = new Promise<void>((r) => {
    reached = r;
  });
  const opened = new Promise<void>((r) => {
    open = r;
  });
  const hold = () => {
    reached();
    return opened;
  };
  return { at, open, hold };
}

/** `sql` whose transactions stop before a statement matching `pattern` until the gate opens. */
function gatedSql(sql: Sql, pattern: RegExp, g: ReturnType<typeof gate>): Sql {
  const wrapTx = (tx: Sql) =>
    new Proxy(tx, {
      apply(target, self, args) {
        const query = Reflect.apply(target, self, args) as PromiseLike<unknown>;
        const text = Array.isArray(args[0]) ? (args[0] as string[]).join('$') : '';
        return pattern.test(text) ? g.hold().then(() => query) : query;
      },
    });
  return new Proxy(sql, {
    get(target, prop, receiver) {
      if (prop !== 'begin') return Reflect.get(target, prop, receiver);
      return (fn: (tx: Sql) => Promise<unknown>) => target.begin((tx) => fn(wrapTx(tx as unknown as Sql)));
    },
  });
}

/** `store` whose key changes stop before they insert the trust bundle (keys locked, active key switched). */
function gatedKeyStore(store: SigningKeyStore, g: ReturnType<typeof gate>): SigningKeyStore {
  return {
    activeKeyId: () => store.activeKeyId(),
    adoptInitialKey: (k, at) => store.adoptInitialKey(k, at),
    latestBundle: () => store.latestBundle(),
    transaction: (fn) =>
      store.transaction((tx) =>
        fn(
          new Proxy(tx, {
            get(target, prop) {
              const v = Reflect.get(target, prop) as unknown;
              if (prop === 'insertBundle') {
                return async (...args: Parameters<SigningKeyTx['insertBundle']>) => {
                  await g.hold();
                  return target.insertBundle(...args);
                };
              }
              return typeof v === 'function' ? v.bind(target) : v;
            },
          }),
        ),
      ),
  };
}

function manifest(version: string): Manifest {
  return {
    model: 'press',
    version,
    runtime: 'logistic',
    inputs: [{ name: 'rms', unit: 'mm/s' }],
    output: { meaning: 'p(fault)', alertThreshold: 0.5, uncertainLow: 0.4, uncertainHigh: 0.6, onnxOutput: '' },
    selfTest: [{ inputs: [1], expectedScore: 0.5, tolerance: 0.01 }],
    trainingMetrics: {},
    lineage: { parentVersion: '', datasetSnapshotId: '', trainingRunUrl: '', retrainingRequestId: '' },
    reference: [],
    sequence: 0,
    description: '',
  } as Manifest;
}

async function* bytes(text: string): AsyncGenerator<Uint8Array> {
  yield new TextEncoder().encode(text);
}

const ref = (v: ModelVersion): DesiredModelRef => ({
  model: v.model,
  version: v.version,
  sha256: v.sha256,
  sizeBytes: v.sizeBytes,
  signature: v.signature,
});

/** What a rollout stores for an agent (its model, or the one it has). */
const rolloutBuild =
  (rolloutId: string, model?: DesiredModelRef) =>
  (agentId: string, current: DesiredSpec | undefined): Omit<DesiredSpec, 'generation'> => ({
    agentId,
    siteId: SITE,
    model: model ?? current?.model,
    shadow: undefined,
    switchPolicy: { condition: '', force: false, windows: [], timeZone: '' },
    config: undefined,
    rolloutId,
    reason: `rollout ${rolloutId}`,
    issuedAtMs: 1,
  });

describe('signing-key changes and other desired-state writers against real PostgreSQL', () => {
  let pg: PostgresServer;
  const handles: DbHandle[] = [];

  beforeAll(async () => {
    pg = await PostgresServer.start();
  });

  afterEach(async () => {
    await Promise.all(handles.splice(0).map((h) => h.close()));
  });

  afterAll(async () => {
    await pg?.dispose();
  });

  /** A fresh database with agents, a registry and a key service sharing one key directory. */
  async function fresh(agents: string[]) {
    const url = await pg.createDatabase();
    await runMigrations(url);
    const h = openDb(url, 6);
    const admin = openDb(url, 1);
    handles.push(h, admin);
    await h.sql`insert into sites (id) values (${SITE})`;
    for (const id of agents) await h.sql`insert into agents (id, site_id) values (${id}, ${SITE})`;
    const keyring = Keyring.load({ devKeyDir: mkdtempSync(join(tmpdir(), 'mw-lock-keys-')) });
    const keyStore = new PostgresSigningKeyStore({ db: h.db });
    const keysOn = (store: SigningKeyStore) =>
      new SigningKeyService({ store, keys: keyring, encodeBundle: encodeTrustBundlePayload, now: Date.now, log });
    const keys = keysOn(keyStore);
    await keys.init();
    const registry = new RegistryService({
      store: new PostgresRegistryStore({ db: h.db }),
      artifacts: new InMemoryArtifactStore(),
      verifier: new FakeArtifactVerifier(),
      signer: (id) => keys.activeSigner(id),
      encodePayload: encodeSignedPayload,
      now: Date.now,
      newId: () => Math.random().toString(36).slice(2),
      limits: { maxArtifactBytes: 1 << 20, presignTtlS: 600 },
      log,
    });
    await registry.createModel('press', '', caller);
    const push = (version: string) =>
      registry.uploadVersion({ manifest: manifest(version), expectedSha256: '' }, bytes(`artifact ${version}`), caller);
    /** Lock requests of this database that wait. */
    const lockWaits = async () => {
      const [r] = await admin.sql`select count(*)::int as n from pg_locks l join pg_stat_activity a on a.pid = l.pid
        where not l.granted and a.datname = current_database()`;
      return Number(r?.n ?? 0);
    };
    /** Until `p` is blocked on a lock (or done: then there was nothing to wait for). */
    const blockedOrDone = async (p: Promise<unknown>) => {
      let done = false;
      void p.then(
        () => (done = true),
        () => (done = true),
      );
      await waitFor(
        'a lock wait or completion',
        async () => (done || (await lockWaits()) > 0 ? true : undefined),
        30_000,
        20,
      );
    };
    return {
      h,
      keyring,
      keyStore,
      keys,
      keysOn,
      registry,
      push,
      blockedOrDone,
      desired: new PostgresDesiredStore({ sql: h.sql }),
    };
  }

  it('a key change meeting a rollout write in progress waits for it instead of deadlocking', async () => {
    const t = await fresh(['a1', 'a2']);
    const agents = ['a1', 'a2'].map((agentId) => ({ agentId, siteId: SITE }));
    await t.desired.update(agents, rolloutBuild('ro-0'));
    const g = gate();
    const rolloutStore = new PostgresDesiredStore({ sql: gatedSql(t.h.sql, /^\s*insert into desired_states/, g) });
    // The rollout has read (and row-locked) the agents' states and is about to write the next ones.
    const rollout = rolloutStore.update(agents, rolloutBuild('ro-1'));
    await g.at;
    const rotation = t.keys.rotate({ keyId: '', reason: 'race with a rollout' }, caller);
    await t.blockedOrDone(rotation);
    g.open();
    const [stored, change] = await Promise.all([rollout, rotation]);
    expect(stored.map((s) => s.generation)).toEqual([2, 2]);
    expect(change.agents).toBe(2);
    for (const id of ['a1', 'a2']) {
      const now = await t.desired.get(id);
      // The rollout's state, re-issued by the key change after it.
      expect(now).toMatchObject({ generation: 3, rolloutId: 'ro-1', reason: 'trust bundle 1: signing_key.rotate' });
    }
  });

  it('the trust sweep and a rollout joiner never give one agent two states of the same generation', async () => {
    const t = await fresh(['a1']);
    await t.keys.rotate({ keyId: '', reason: 'first bundle' }, caller);
    await t.h.sql`insert into agents (id, site_id) values ('joiner', ${SITE})`;
    const g = gate();
    const rolloutStore = new PostgresDesiredStore({ sql: gatedSql(t.h.sql, /^\s*insert into desired_states/, g) });
    // The joiner has no desired state yet: the rollout is about to create it.
    const joiner = rolloutStore.update([{ agentId: 'joiner', siteId: SITE }], rolloutBuild('ro-2'));
    await g.at;
    const sweep = t.keys.sweep();
    await t.blockedOrDone(sweep);
    g.open();
    const [[stored], swept] = await Promise.all([joiner, sweep]);
    // The rollout came first: the sweep finds the agent served; its state is the rollout's, generation 1.
    expect({ swept, generation: stored?.generation }).toEqual({ swept: 0, generation: 1 });
    expect(await t.desired.get('joiner')).toMatchObject({ generation: 1, rolloutId: 'ro-2' });
  });

  it('a rollout write after the sweep created the state takes the next generation', async () => {
    const t = await fresh(['a1']);
    await t.keys.rotate({ keyId: '', reason: 'first bundle' }, caller);
    await t.h.sql`insert into agents (id, site_id) values ('joiner', ${SITE})`;
    expect(await t.keys.sweep()).toBe(1);
    const [stored] = await t.desired.update([{ agentId: 'joiner', siteId: SITE }], rolloutBuild('ro-3'));
    expect(stored?.generation).toBe(2);
    expect(await t.desired.get('joiner')).toMatchObject({ generation: 2, rolloutId: 'ro-3' });
  });

  it('an upload committing during a rotation is signed by the new key', async () => {
    const t = await fresh(['a1']);
    const before = await t.keys.activeSigner();
    const g = gate();
    // The rotation holds the key rows and has switched the active key, not yet committed.
    const rotation = t
      .keysOn(gatedKeyStore(t.keyStore, g))
      .rotate({ keyId: '', reason: 'race with an upload' }, caller);
    await g.at;
    const upload = t.push('1.0.0');
    await t.blockedOrDone(upload);
    g.open();
    const [change, version] = await Promise.all([rotation, upload]);
    expect(change.key.keyId).not.toBe(before.keyId);
    expect(version.signature.keyId).toBe(change.key.keyId);
    expect((await t.registry.getVersion('press', '1.0.0')).signature.keyId).toBe(change.key.keyId);
  });

  it('runs the trust sweep on one replica only', async () => {
    const url = await pg.createDatabase();
    await runMigrations(url);
    const devKeyDir = mkdtempSync(join(tmpdir(), 'mw-sweep-keys-'));
    // No S3 here: the bucket check fails in the background and is only logged.
    const s3 = new S3Client({ endpoint: 'http://127.0.0.1:9', region: 'us-east-1', maxAttempts: 1 });
    const config = {
      s3: { bucket: 'none', presignTtlS: 60 },
      signing: { devKeyDir, trustSweepS: 0.05 },
      registry: { maxArtifactBytes: 1024 },
      database: { url },
      leader: { retryS: 0.1 },
    } as unknown as Parameters<typeof wireRegistry>[0]['config'];
    const replicas = [];
    for (let i = 0; i < 2; i++) {
      const h = openDb(url, 2);
      handles.push(h);
      replicas.push(await wireRegistry({ config, db: h.db, s3, log }));
    }
    const sweeps = replicas.map(() => 0);
    replicas.forEach((r, i) => {
      r.keys.sweep = async () => {
        sweeps[i]!++;
        return 0;
      };
      r.start();
    });
    try {
      await waitFor('ten sweeps', () => (sweeps[0]! + sweeps[1]! >= 10 ? true : undefined), 30_000, 20);
      expect(sweeps.filter((n) => n > 0)).toHaveLength(1);
    } finally {
      await Promise.all(replicas.map((r) => r.stop()));
      s3.destroy();
    }
  });

  it('re-signs the versions an agent runs or falls back to and ships them in its desired state', async () => {
    const t = await fresh(['a1', 'a2']);
    const [v1, v2, v3] = [await t.push('1.0.0'), await t.push('2.0.0'), await t.push('3.0.0')];
    const old = v1.signature.keyId;
    // a1 is told to run 3.0.0 but runs 2.0.0 (its watchdog rolled 3.0.0 back); it switched to 2.0.0
    // from 1.0.0, which its fallback slot still holds.
    await t.desired.update([{ agentId: 'a1', siteId: SITE }], rolloutBuild('ro-1', ref(v3)));
    await t.h.sql`update agents set running_model_version = '2.0.0' where id = 'a1'`;
    await t.h.sql`insert into agent_model_events (agent_id, report_seq, at, phase, version, previous_version)
      values ('a1', 6, now(), 'active', '1.0.0', '0.9.0'), ('a1', 7, now(), 'active', '2.0.0', '1.0.0'),
        ('a1', 8, now(), 'downloading', '3.0.0', '')`;
    const change = await t.keys.rotate({ keyId: '', reason: 'yearly' }, caller);
    const next = t.keyring.get(change.key.keyId)!;
    expect(next.keyId).not.toBe(old);
    expect(change.resignedVersions).toEqual(['press@1.0.0', 'press@2.0.0', 'press@3.0.0']);
    const a1 = (await t.desired.get('a1'))!;
    // 3.0.0 is a1's desired model (re-signed in place); the versions it holds besides ride along.
    expect(a1.model?.signature.keyId).toBe(next.keyId);
    expect(a1.resignatures?.map((r) => [r.model, r.version, r.signature.keyId])).toEqual([
      ['press', '1.0.0', next.keyId],
      ['press', '2.0.0', next.keyId],
    ]);
    for (const [r, v] of [
      [a1.resignatures![0]!, v1],
      [a1.resignatures![1]!, v2],
    ] as const) {
      expect(r.signature.payload).toBe(v.signature.payload);
      const payload = Buffer.from(r.signature.payload, 'base64');
      expect(verifyEd25519(next.publicKey, payload, Buffer.from(r.signature.signature, 'base64'))).toBe(true);
    }
    expect((await t.desired.get('a2'))?.resignatures).toBeUndefined();

    // The KV value carries them; a later rollout write keeps them.
    const proto = await toProto(a1, async () => ({ url: 'u', expiresAtMs: 0 }));
    expect(proto.resignatures.map((r) => [r.version, r.signature?.keyId, r.signature?.payload])).toEqual([
      ['1.0.0', next.keyId, v1.signature.payload],
      ['2.0.0', next.keyId, v2.signature.payload],
    ]);
    const [later] = await t.desired.update([{ agentId: 'a1', siteId: SITE }], rolloutBuild('ro-2', ref(v3)));
    expect(later?.resignatures).toEqual(a1.resignatures);
    expect((await t.desired.get('a1'))?.resignatures).toEqual(a1.resignatures);
  });
});
