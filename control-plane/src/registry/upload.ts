import { createHash } from 'node:crypto';
import {
  AlreadyExistsError,
  ErrorCode,
  InvalidArgumentError,
  MillwrightError,
  PreconditionError,
} from '../domain/errors.js';
import type { RegistryDeps } from './deps.js';
import { artifactKey, type Caller, type Manifest, type ModelVersion, uploadKey } from './domain.js';
import { checkManifest } from './manifest-rules.js';

/** The first message of an upload. */
export interface UploadHeader {
  manifest: Manifest;
  /** The client's sha256 (hex), checked against the server's; '' to skip. */
  expectedSha256: string;
}

interface Received {
  bytes: Uint8Array;
  sha256: string;
  sizeBytes: number;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * Registers a version: streams the artifact to a temporary object while hashing it, runs the
 * edge runtime's self-test on it, copies it to its content-addressed key and commits the signed
 * version with the next sequence. Anything refused leaves no object behind.
 * @throws InvalidArgumentError naming the field at fault; AlreadyExistsError for an existing version;
 *   PreconditionError when the model does not exist or no signing key is configured.
 */
export async function uploadVersion(
  deps: RegistryDeps,
  header: UploadHeader,
  chunks: AsyncIterable<Uint8Array>,
  caller: Caller,
  signal?: AbortSignal,
): Promise<ModelVersion> {
  const started = deps.now();
  const { manifest } = header;
  checkHeader(header);
  await deps.signer();
  await precheck(deps, manifest);
  const tempKey = uploadKey(manifest.model, manifest.version, deps.newId());
  const received = await receive(deps, tempKey, chunks, signal);
  try {
    // A cancelled call can look like a complete stream (gRPC half-closes before it reports the cancel);
    // expected_sha256 catches a truncated artifact for sure, these checks whenever the cancel has arrived.
    signal?.throwIfAborted();
    checkDigest(header.expectedSha256, received.sha256);
    const verdict = await deps.verifier.verify(manifest, received.bytes);
    if (!verdict.ok) throw new InvalidArgumentError(verdict.field, verdict.message);
    const key = artifactKey(manifest.model, manifest.version, received.sha256);
    await deps.artifacts.copy(tempKey, key, signal);
    const version = await commitOrDrop(deps, manifest, received, key, caller, signal);
    deps.log.info(
      {
        model: version.model,
        version: version.version,
        sequence: version.sequence,
        sizeBytes: version.sizeBytes,
        durationMs: deps.now() - started,
      },
      'registry.version.registered',
    );
    return version;
  } finally {
    await deleteQuietly(deps, tempKey);
  }
}

function checkHeader(header: UploadHeader): void {
  checkManifest(header.manifest);
  if (header.expectedSha256 && !SHA256_HEX.test(header.expectedSha256)) {
    throw new InvalidArgumentError('expected_sha256', 'must be 64 lower-case hex characters');
  }
}

/** Cheap refusals before any byte is stored; `commit` checks again under the model lock. */
async function precheck(deps: RegistryDeps, m: Manifest): Promise<void> {
  if (!(await deps.store.getModel(m.model))) {
    throw new PreconditionError(`model ${JSON.stringify(m.model)} does not exist: create it first`, {
      field: 'manifest.model',
    });
  }
  if (await deps.store.getVersion(m.model, m.version))
    throw new AlreadyExistsError('version', `${m.model}@${m.version}`);
  if (await deps.store.getAlias(m.model, m.version)) {
    throw new InvalidArgumentError(
      'manifest.version',
      `${m.version} is an alias of ${m.model}; versions and aliases must differ`,
    );
  }
}

async function receive(
  deps: RegistryDeps,
  key: string,
  chunks: AsyncIterable<Uint8Array>,
  signal?: AbortSignal,
): Promise<Received> {
  const upload = deps.artifacts.startUpload(key, signal);
  const hash = createHash('sha256');
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of chunks) {
      signal?.throwIfAborted();
      size += chunk.length;
      if (size > deps.limits.maxArtifactBytes) throw tooLarge(deps.limits.maxArtifactBytes);
      hash.update(chunk);
      parts.push(chunk);
      await upload.write(chunk);
    }
    if (size === 0) throw new InvalidArgumentError('chunk', 'the artifact is empty');
    await upload.complete();
  } catch (err) {
    await upload.abort().catch((e: unknown) => deps.log.warn({ err: e, key }, 'registry.upload.abort_failed'));
    throw err;
  }
  return { bytes: Buffer.concat(parts, size), sha256: hash.digest('hex'), sizeBytes: size };
}

function tooLarge(limit: number): MillwrightError {
  return new MillwrightError(ErrorCode.RESOURCE_EXHAUSTED, `chunk: the artifact exceeds ${limit} bytes`, {
    field: 'chunk',
    limit,
  });
}

function checkDigest(expected: string, actual: string): void {
  if (expected && expected !== actual) {
    throw new InvalidArgumentError('expected_sha256', `the artifact's sha256 is ${actual}, not ${expected}`);
  }
}

async function commitOrDrop(
  deps: RegistryDeps,
  manifest: Manifest,
  received: Received,
  key: string,
  caller: Caller,
  signal?: AbortSignal,
): Promise<ModelVersion> {
  try {
    signal?.throwIfAborted();
    return await commit(deps, manifest, received, key, caller);
  } catch (err) {
    // A concurrent upload of the same bytes may own the same key by now; an orphan beats a broken version.
    const existing = await deps.store.getVersion(manifest.model, manifest.version).catch(() => ({ artifactKey: key }));
    if (existing?.artifactKey !== key) await deleteQuietly(deps, key);
    throw err;
  }
}

function commit(
  deps: RegistryDeps,
  manifest: Manifest,
  received: Received,
  key: string,
  caller: Caller,
): Promise<ModelVersion> {
  return deps.store.transaction(async (tx) => {
    // The key active now, read under a lock a key change waits for: either this version commits first
    // (and the rotation re-signs it) or it is signed by the new key, never by the old one after it.
    const activeKeyId = await tx.lockActiveKey();
    if (!activeKeyId)
      throw new PreconditionError('no signing key is configured (signing.keyFile)', { field: 'signing' });
    const signer = await deps.signer(activeKeyId);
    const model = await tx.lockModel(manifest.model);
    if (!model)
      throw new PreconditionError(`model ${JSON.stringify(manifest.model)} does not exist`, {
        field: 'manifest.model',
      });
    if (await tx.getVersion(manifest.model, manifest.version)) {
      throw new AlreadyExistsError('version', `${manifest.model}@${manifest.version}`);
    }
    const now = deps.now();
    const signed: Manifest = { ...manifest, sequence: model.latestSequence + 1 };
    const payload = deps.encodePayload({
      manifest: signed,
      sha256: received.sha256,
      sizeBytes: received.sizeBytes,
      signedAtMs: now,
    });
    const version: Omit<ModelVersion, 'aliases'> = {
      model: manifest.model,
      version: manifest.version,
      sequence: signed.sequence,
      manifest: signed,
      sha256: received.sha256,
      sizeBytes: received.sizeBytes,
      signature: { keyId: signer.keyId, signature: b64(signer.sign(payload)), payload: b64(payload) },
      artifactKey: key,
      createdAtMs: now,
      createdBy: caller.actor,
    };
    await tx.insertVersion(version);
    await tx.setLatestSequence(manifest.model, signed.sequence);
    await tx.appendAudit({
      ...caller,
      action: 'model.version.create',
      target: `model/${manifest.model}/version/${manifest.version}`,
      detail: {
        sequence: signed.sequence,
        sha256: received.sha256,
        sizeBytes: received.sizeBytes,
        keyId: signer.keyId,
      },
      reason: '',
      atMs: now,
    });
    return { ...version, aliases: [] };
  });
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

async function deleteQuietly(deps: RegistryDeps, key: string): Promise<void> {
  await deps.artifacts
    .delete(key)
    .catch((err: unknown) => deps.log.warn({ err, key }, 'registry.artifact.delete_failed'));
}
