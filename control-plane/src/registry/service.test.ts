import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ErrorCode, MillwrightError, PreconditionError } from '../domain/errors.js';
import type { Manifest, SignedPayloadData } from './domain.js';
import { FakeArtifactVerifier, InMemoryArtifactStore, InMemoryRegistryStore } from './fakes.js';
import { RegistryService } from './service.js';
import { Ed25519Signer, parsePrivateKey, verifyEd25519 } from './signing.js';

const SEED = Buffer.alloc(32, 7).toString('base64');
const caller = { actor: 'alice', source: 'ipv4:127.0.0.1:5000' };

function setup(over: { maxArtifactBytes?: number; signer?: boolean } = {}) {
  const store = new InMemoryRegistryStore();
  const artifacts = new InMemoryArtifactStore();
  const verifier = new FakeArtifactVerifier();
  const signer = new Ed25519Signer(parsePrivateKey(SEED));
  let clock = 1_700_000_000_000;
  let ids = 0;
  const registry = new RegistryService({
    store,
    artifacts,
    verifier,
    signer: async () => {
      if (over.signer === false) throw new PreconditionError('no signing key is configured (signing.keyFile)');
      return signer;
    },
    encodePayload: (p: SignedPayloadData) => new TextEncoder().encode(JSON.stringify(p)),
    now: () => clock++,
    newId: () => `u${++ids}`,
    limits: { maxArtifactBytes: over.maxArtifactBytes ?? 1024, presignTtlS: 600 },
    log: pino({ level: 'silent' }),
  });
  return { store, artifacts, verifier, signer, registry };
}

function manifest(version: string, over: Partial<Manifest> = {}): Manifest {
  return {
    model: 'pump',
    version,
    runtime: 'logistic',
    inputs: [
      { name: 'rms', unit: 'mm/s' },
      { name: 'temp', unit: 'C' },
    ],
    output: { meaning: 'p(fault)', alertThreshold: 0.5, uncertainLow: 0.4, uncertainHigh: 0.6, onnxOutput: '' },
    selfTest: [{ inputs: [1, 2], expectedScore: 0.5, tolerance: 0.01 }],
    trainingMetrics: { auc: 0.9 },
    lineage: { parentVersion: '', datasetSnapshotId: 'snap-1', trainingRunUrl: '', retrainingRequestId: '' },
    reference: [],
    sequence: 0,
    description: '',
    ...over,
  };
}

async function* chunksOf(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield new TextEncoder().encode(p);
}

function push(
  s: ReturnType<typeof setup>,
  version: string,
  body = 'artifact-bytes',
  over: Partial<Manifest> = {},
  sha = '',
) {
  return s.registry.uploadVersion({ manifest: manifest(version, over), expectedSha256: sha }, chunksOf(body), caller);
}

async function failure(p: Promise<unknown>): Promise<MillwrightError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MillwrightError);
  return err as MillwrightError;
}

describe('RegistryService models', () => {
  it('creates a model once and audits it', async () => {
    const s = setup();
    const m = await s.registry.createModel('pump', 'pump anomaly', caller);
    expect(m).toMatchObject({ name: 'pump', description: 'pump anomaly', latestSequence: 0, aliases: {} });
    expect((await failure(s.registry.createModel('pump', '', caller))).code).toBe(ErrorCode.ALREADY_EXISTS);
    expect(s.store.audit.map((a) => [a.action, a.target, a.actor])).toEqual([['model.create', 'model/pump', 'alice']]);
  });

  it('refuses a model name that is not safe as a key segment, naming the field', async () => {
    const err = await failure(setup().registry.createModel('pump/../x', '', caller));
    expect(err.code).toBe(ErrorCode.INVALID);
    expect(err.details.field).toBe('name');
  });

  it('lists models by name across pages', async () => {
    const s = setup();
    for (const n of ['c', 'a', 'b']) await s.registry.createModel(n, '', caller);
    const first = await s.registry.listModels(2, '');
    const second = await s.registry.listModels(2, first.nextPageToken);
    expect([...first.models, ...second.models].map((m) => m.name)).toEqual(['a', 'b', 'c']);
    expect(second.nextPageToken).toBe('');
    expect(first.total).toBe(3);
  });
});

describe('RegistryService.uploadVersion', () => {
  it('stores the artifact under its digest, assigns sequences and signs what it stores', async () => {
    const s = setup();
    await s.registry.createModel('pump', '', caller);
    const v1 = await push(s, '1.0.0', 'first');
    const v2 = await push(s, '1.1.0', 'second');
    expect([v1.sequence, v2.sequence]).toEqual([1, 2]);
    expect(v2.manifest.sequence).toBe(2);
    expect((await s.registry.getModel('pump')).latestSequence).toBe(2);
    expect(v1.artifactKey).toBe(`artifacts/pump/1.0.0/${v1.sha256}`);
    expect(Buffer.from(s.artifacts.objects.get(v1.artifactKey)!).toString()).toBe('first');
    expect([...s.artifacts.objects.keys()].filter((k) => k.startsWith('uploads/'))).toEqual([]);
    const payload = Buffer.from(v2.signature.payload, 'base64');
    expect(verifyEd25519(s.signer.publicKey, payload, Buffer.from(v2.signature.signature, 'base64'))).toBe(true);
    expect(JSON.parse(payload.toString())).toMatchObject({
      sha256: v2.sha256,
      sizeBytes: 6,
      manifest: { sequence: 2 },
    });
    expect(v2.signature.keyId).toBe(s.signer.keyId);
    expect(s.store.audit.at(-1)).toMatchObject({ action: 'model.version.create', actor: 'alice' });
  });

  it('hands the verifier exactly the streamed bytes', async () => {
    const s = setup();
    await s.registry.createModel('pump', '', caller);
    await s.registry.uploadVersion({ manifest: manifest('1'), expectedSha256: '' }, chunksOf('ab', 'cd', 'e'), caller);
    expect(Buffer.from(s.verifier.seen[0]!).toString()).toBe('abcde');
  });

  it('requires the model to exist', async () => {
    const s = setup();
    const err = await failure(push(s, '1.0.0'));
    expect(err.code).toBe(ErrorCode.PRECONDITION);
    expect(s.artifacts.objects.size).toBe(0);
  });

  it('keeps versions immutable: a second upload of a version is ALREADY_EXISTS', async () => {
    const s = setup();
    await s.registry.createModel('pump', '', caller);
    const first = await push(s, '1.0.0', 'one');
    expect((await failure(push(s, '1.0.0', 'two'))).code).toBe(ErrorCode.ALREADY_EXISTS);
    expect((await s.registry.getVersion('pump', '1.0.0')).sha256).toBe(first.sha256);
  });

  it('keeps the artifact of the winner when two uploads of the same bytes race', async () => {
    const s = setup();
    await s.registry.createModel('pump', '', caller);
    const results = await Promise.allSettled([push(s, '1.0.0', 'same'), push(s, '1.0.0', 'same')]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const winner = await s.registry.getVersion('pump', '1.0.0');
    expect(s.artifacts.objects.has(winner.artifactKey)).toBe(true);
  });

  it('refuses an artifact its runtime rejects, naming the field, and deletes what was uploaded', async () => {
    const s = setup();
    await s.registry.createModel('pump', '', caller);
    s.verifier.verdict = { ok: false, field: 'manifest.self_test[0]', message: 'expected 0.5, got 0.9' };
    const err = await failure(push(s, '1.0.0'));
    expect(err.code).toBe(ErrorCode.INVALID);
    expect(err.details.field).toBe('manifest.self_test[0]');
    expect(s.artifacts.objects.size).toBe(0);
    expect((await s.registry.getModel('pump')).latestSequence).toBe(0);
  });

  it('checks the client digest', async () => {
    const s = setup();
    await s.registry.createModel('pump', '', caller);
    const err = await failure(push(s, '1.0.0', 'bytes', {}, 'a'.repeat(64)));
    expect(err.details.field).toBe('expected_sha256');
    expect(s.artifacts.objects.size).toBe(0);
  });

  it('stops an artifact over the size limit', async () => {
    const s = setup({ maxArtifactBytes: 4 });
    await s.registry.createModel('pump', '', caller);
    const err = await failure(push(s, '1.0.0', 'too large'));
    expect(err.code).toBe(ErrorCode.RESOURCE_EXHAUSTED);
    expect(s.artifacts.objects.size).toBe(0);
  });

  it.each([
    ['an empty self-test', { selfTest: [] }, 'manifest.self_test'],
    [
      'a self-test vector narrower than the inputs',
      { selfTest: [{ inputs: [1], expectedScore: 0, tolerance: 0 }] },
      'manifest.self_test[0].inputs',
    ],
    ['no inputs', { inputs: [] }, 'manifest.inputs'],
    ['a bad version', { version: '../x' }, 'manifest.version'],
  ] as const)('refuses a manifest with %s before storing a byte', async (_what, over, field) => {
    const s = setup();
    await s.registry.createModel('pump', '', caller);
    const err = await failure(push(s, '1.0.0', 'x', over as Partial<Manifest>));
    expect(err.details.field).toBe(field);
    expect(s.verifier.seen).toEqual([]);
    expect(s.artifacts.objects.size).toBe(0);
  });

  it('does not register an upload whose call was cancelled after its last chunk', async () => {
    const s = setup();
    await s.registry.createModel('pump', '', caller);
    const abort = new AbortController();
    async function* cancelledAtEnd(): AsyncGenerator<Uint8Array> {
      yield new TextEncoder().encode('partial');
      abort.abort(new Error('client cancelled'));
    }
    const upload = s.registry.uploadVersion(
      { manifest: manifest('1'), expectedSha256: '' },
      cancelledAtEnd(),
      caller,
      abort.signal,
    );
    await expect(upload).rejects.toThrow('client cancelled');
    expect(s.artifacts.objects.size).toBe(0);
    expect((await s.registry.getModel('pump')).latestSequence).toBe(0);
  });

  it('refuses uploads while no signing key is configured', async () => {
    const s = setup({ signer: false });
    await s.registry.createModel('pump', '', caller);
    expect((await failure(push(s, '1.0.0'))).code).toBe(ErrorCode.PRECONDITION);
  });
});

describe('RegistryService aliases and reads', () => {
  async function withVersions(n: number) {
    const s = setup();
    await s.registry.createModel('pump', '', caller);
    for (let i = 1; i <= n; i++) await push(s, `1.${i}`, `v${i}`);
    return s;
  }

  it('moves an alias with a reason, recording history and audit; a repeat changes nothing', async () => {
    const s = await withVersions(2);
    await s.registry.setAlias({ model: 'pump', alias: 'production', version: '1.1', reason: 'first release' }, caller);
    const m = await s.registry.setAlias(
      { model: 'pump', alias: 'production', version: '1.2', reason: 'better recall' },
      caller,
    );
    await s.registry.setAlias({ model: 'pump', alias: 'production', version: '1.2', reason: 'again' }, caller);
    expect(m.aliases).toEqual({ production: '1.2' });
    const history = await s.registry.listAliasHistory('pump', 'production');
    expect(history.map((c) => [c.fromVersion, c.toVersion, c.reason, c.actor])).toEqual([
      ['1.1', '1.2', 'better recall', 'alice'],
      ['', '1.1', 'first release', 'alice'],
    ]);
    const audits = s.store.audit.filter((a) => a.action === 'model.alias.set');
    expect(audits.map((a) => a.detail)).toEqual([
      { from: '', to: '1.1' },
      { from: '1.1', to: '1.2' },
    ]);
  });

  it('requires a reason and an existing version', async () => {
    const s = await withVersions(1);
    const noReason = await failure(
      s.registry.setAlias({ model: 'pump', alias: 'production', version: '1.1', reason: ' ' }, caller),
    );
    expect(noReason.details.field).toBe('reason');
    const missing = await failure(
      s.registry.setAlias({ model: 'pump', alias: 'production', version: '9', reason: 'r' }, caller),
    );
    expect(missing.code).toBe(ErrorCode.NOT_FOUND);
    expect(await s.registry.listAliasHistory('pump', '')).toEqual([]);
  });

  it('resolves GetVersion by alias and says NOT_FOUND for neither', async () => {
    const s = await withVersions(2);
    await s.registry.setAlias({ model: 'pump', alias: 'candidate', version: '1.1', reason: 'try it' }, caller);
    const v = await s.registry.getVersion('pump', 'candidate');
    expect(v.version).toBe('1.1');
    expect(v.aliases).toEqual(['candidate']);
    expect((await failure(s.registry.getVersion('pump', 'staging'))).code).toBe(ErrorCode.NOT_FOUND);
    expect((await failure(s.registry.getVersion('nope', '1.1'))).code).toBe(ErrorCode.NOT_FOUND);
  });

  it('keeps version and alias names apart', async () => {
    const s = await withVersions(1);
    await s.registry.setAlias({ model: 'pump', alias: 'stable', version: '1.1', reason: 'r' }, caller);
    const aliasLikeVersion = await failure(
      s.registry.setAlias({ model: 'pump', alias: '1.1', version: '1.1', reason: 'r' }, caller),
    );
    expect(aliasLikeVersion.details.field).toBe('alias');
    expect((await failure(push(s, 'stable'))).details.field).toBe('manifest.version');
  });

  it('refuses to alias or roll out a version signed only by a revoked key, naming the key', async () => {
    const s = await withVersions(1);
    const v = await s.registry.getVersion('pump', '1.1');
    expect((await s.registry.deployableVersion('pump', '1.1')).version).toBe('1.1');
    s.store.putSigningKey({
      keyId: v.signature.keyId,
      publicKey: s.signer.publicKey,
      active: false,
      createdAtMs: 1,
      revokedAtMs: 2,
      revokedReason: 'leaked',
    });
    const alias = await failure(
      s.registry.setAlias({ model: 'pump', alias: 'production', version: '1.1', reason: 'r' }, caller),
    );
    expect(alias.code).toBe(ErrorCode.PRECONDITION);
    expect(alias.message).toContain(`signed only by revoked key ${v.signature.keyId} (leaked)`);
    expect((await failure(s.registry.deployableVersion('pump', '1.1'))).code).toBe(ErrorCode.PRECONDITION);
    expect((await s.registry.getVersion('pump', '1.1')).version).toBe('1.1');
  });

  it('pages versions newest first', async () => {
    const s = await withVersions(5);
    const seen: string[] = [];
    let token = '';
    let pages = 0;
    do {
      const page = await s.registry.listVersions('pump', 2, token);
      seen.push(...page.versions.map((v) => v.version));
      expect(page.total).toBe(5);
      token = page.nextPageToken;
      pages++;
    } while (token);
    expect(seen).toEqual(['1.5', '1.4', '1.3', '1.2', '1.1']);
    expect(pages).toBe(3);
    expect((await failure(s.registry.listVersions('pump', 2, 'garbage'))).details.field).toBe('page.page_token');
  });

  it('presigns the artifact URL with the configured lifetime', async () => {
    const s = await withVersions(1);
    const v = await s.registry.getVersion('pump', '1.1');
    const res = await s.registry.getArtifactUrl('pump', '1.1');
    expect(res.url).toBe(`memory://${v.artifactKey}?ttl=600`);
    expect(res.expiresAtMs).toBeGreaterThan(v.createdAtMs + 599_000);
  });
});
