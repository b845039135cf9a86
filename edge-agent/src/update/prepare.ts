import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import { ErrorCode, IntegrityError, MillwrightError, ModelLoadError } from '../domain/errors.js';
import type { RuntimeRegistry } from '../inference/registry.js';
import type { LoadedModel } from '../inference/runtime.js';
import { runSelfTest } from '../inference/selftest.js';
import type { ModelStore, VersionRef } from './model-store.js';
import type { ArtifactFetcher, FetchRequest, SignedPayloadDecoder, UpdateClock } from './ports.js';
import type { TrustStore } from './trust.js';
import type { DesiredArtifact, SignedRelease, UpdatePhase } from './types.js';
import { checkAntiRollback, checkDigest, type RunningVersion, verifySignedRelease } from './verify.js';

export interface UpdateOptions {
  /** Back-off between failed download rounds grows from min to max (with jitter). */
  retryBackoffMinMs: number;
  retryBackoffMaxMs: number;
  /** How often a deferred switch re-checks windows and the edge condition. */
  switchCheckMs: number;
  /** Watchdog period when the switch policy gives none. */
  watchdogDefaultS: number;
  /** Inferences needed before the watchdog judges rates and p99. */
  watchdogMinSamples: number;
  maxArtifactBytes: number;
}

/** What preparing and restoring versions needs; shared by the manager's parts. */
export interface PrepareDeps {
  store: ModelStore;
  trust: TrustStore;
  decode: SignedPayloadDecoder;
  registry: Pick<RuntimeRegistry, 'loadModel'>;
  fetcher: ArtifactFetcher;
  clock: UpdateClock;
  log: Logger;
  options: UpdateOptions;
  random: () => number;
}

/** A version downloaded, verified, installed on disk, loaded into the standby slot and self-tested. */
export interface Candidate {
  ref: VersionRef;
  release: SignedRelease;
  model: LoadedModel;
}

/** Progress callback: one call per state transition (and per retry while downloading). */
export type Progress = (phase: UpdatePhase, reason: string) => void;

/**
 * The refusal that ends one attempt at a version (FAILED, never retried for this generation):
 * verification, size, load or self-test. Anything else is transient or an abort.
 */
export class VersionRejected extends MillwrightError {
  constructor(message: string, cause: unknown) {
    super(ErrorCode.PRECONDITION, message, {}, { cause });
  }
}

/**
 * Takes one desired artifact to a self-tested standby model. Download failures retry with back-off
 * until `signal` aborts; nothing here touches the active model.
 * @throws VersionRejected with the reason to report as FAILED.
 */
export async function prepareVersion(
  deps: PrepareDeps,
  artifact: DesiredArtifact,
  running: RunningVersion | undefined,
  progress: Progress,
  signal: AbortSignal,
): Promise<Candidate> {
  const release = rejectOn(() => checkRelease(deps, artifact, running));
  const ref = { model: artifact.model, version: artifact.version };
  const partial = await deps.store.partialPath(ref, release.sha256);
  progress('downloading', `downloading ${release.sizeBytes} bytes`);
  await downloadWithRetry(deps, fetchRequest(artifact, release, partial), progress, signal);
  progress('verifying', 'checking sha256 and size against the signed manifest');
  const bytes = await verifyDownloaded(release, partial);
  await deps.store.install(ref, partial, release.manifest, artifact.signature!);
  progress('self_testing', `running ${release.manifest.selfTest.length} self-test vectors`);
  const model = await loadAndSelfTest(deps, release, bytes).catch(async (err: unknown) => {
    await deps.store.remove(ref);
    throw err;
  });
  return { ref, release, model };
}

function checkRelease(deps: PrepareDeps, artifact: DesiredArtifact, running: RunningVersion | undefined) {
  const release = verifySignedRelease(deps.trust, deps.decode, artifact);
  checkAntiRollback(release, running);
  if (release.sizeBytes > deps.options.maxArtifactBytes) {
    throw new MillwrightError(
      ErrorCode.RESOURCE_EXHAUSTED,
      `artifact of ${release.sizeBytes} bytes exceeds the limit of ${deps.options.maxArtifactBytes}`,
    );
  }
  return release;
}

function fetchRequest(a: DesiredArtifact, release: SignedRelease, partialPath: string): FetchRequest {
  return {
    model: a.model,
    version: a.version,
    url: a.url,
    urlExpiresAtMs: a.urlExpiresAtMs,
    expectedBytes: release.sizeBytes,
    partialPath,
  };
}

async function downloadWithRetry(deps: PrepareDeps, req: FetchRequest, progress: Progress, signal: AbortSignal) {
  for (let round = 1; ; round++) {
    try {
      await deps.fetcher.fetch(req, signal);
      return;
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      if (isPermanent(err)) {
        await rm(req.partialPath, { force: true });
        throw new VersionRejected(`download refused: ${(err as Error).message}`, err);
      }
      const delayMs = backoff(deps, round);
      const why = `download failed (round ${round}): ${(err as Error).message}; retrying in ${Math.round(delayMs / 1000)} s`;
      deps.log.warn({ err, round, delayMs, model: req.model, version: req.version }, 'update.download.retry');
      progress('downloading', why);
      await deps.clock.sleep(delayMs, signal);
    }
  }
}

function isPermanent(err: unknown): boolean {
  return err instanceof MillwrightError && (err.code === 'RESOURCE_EXHAUSTED' || err.code === 'INTEGRITY');
}

function backoff(deps: PrepareDeps, round: number): number {
  const { retryBackoffMinMs: min, retryBackoffMaxMs: max } = deps.options;
  const full = Math.min(max, min * 2 ** Math.min(round - 1, 30));
  // Equal jitter: a plant's agents coming back together do not retry in lockstep.
  return full / 2 + (deps.random() * full) / 2;
}

/**
 * Reads the download once and checks its digest on those bytes, which are then the ones loaded: no
 * second pass over the file, and nothing can change between the check and the load.
 */
async function verifyDownloaded(release: SignedRelease, partial: string): Promise<Buffer> {
  try {
    return readVerified(release, await readFile(partial));
  } catch (err) {
    // A corrupt download is never resumed: the next attempt starts from zero.
    await rm(partial, { force: true });
    throw err instanceof IntegrityError ? new VersionRejected(err.message, err) : err;
  }
}

/** @throws IntegrityError `size_mismatch` or `digest_mismatch` */
function readVerified(release: SignedRelease, bytes: Buffer): Buffer {
  checkDigest(release, { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length });
  return bytes;
}

/** Loads verified artifact bytes of `release` and runs its self-test vectors. @throws VersionRejected */
export async function loadAndSelfTest(deps: PrepareDeps, release: SignedRelease, artifact: Uint8Array) {
  let model: LoadedModel;
  try {
    model = await deps.registry.loadModel(release.manifest, artifact);
  } catch (err) {
    if (err instanceof ModelLoadError) throw new VersionRejected(`load failed: ${err.message}`, err);
    throw err;
  }
  const outcome = await runSelfTest(model);
  if (outcome.passed) return model;
  model.dispose();
  throw new VersionRejected(`self-test failed: ${outcome.failures.join('; ')}`, undefined);
}

/**
 * Re-verifies and loads a version installed earlier (agent restart, maybe offline): signature,
 * digest, load and self-test again, so a tampered or corrupted disk never serves predictions.
 * @throws VersionRejected or MillwrightError NOT_FOUND.
 */
export async function restoreVersion(deps: PrepareDeps, ref: VersionRef): Promise<Candidate> {
  const installed = await deps.store.readInstalled(ref);
  const release = rejectOn(() => verifySignedRelease(deps.trust, deps.decode, { ...ref, ...installed }));
  const bytes = await readFile(installed.artifactPath);
  rejectOn(() => readVerified(release, bytes));
  return { ref, release, model: await loadAndSelfTest(deps, release, bytes) };
}

function rejectOn<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof IntegrityError || (err instanceof MillwrightError && err.code === 'RESOURCE_EXHAUSTED')) {
      throw new VersionRejected(err.message, err);
    }
    throw err;
  }
}
