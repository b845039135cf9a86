import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, MillwrightError } from '../domain/errors.js';
import type { ModelManifest } from '../domain/model.js';
import { fsyncDir, writeFileAtomic } from '../fs-atomic.js';
import type { ArtifactSignature } from './types.js';

export interface VersionRef {
  model: string;
  version: string;
}

/**
 * A version the watchdog rolled back from. Not retried while the same rollout offers it, however often
 * its desired state is re-issued (every key change does); a later rollout, or a signed rollback other
 * than the one rejected, may offer it again (`rejections.ts`).
 */
export interface RejectedVersion extends VersionRef {
  /** Rollout of the desired state that installed it ('' for none); absent in pointers of older agents. */
  rolloutId?: string;
  /** Desired generation it was rejected in (older agents matched rejections on it alone). */
  generation: number;
  /** sha256 (hex) of the signed payload it was installed with: tells a later signed rollback apart. */
  payloadSha256?: string;
  reason: string;
}

/** `<dataDir>/models/current.json`: what runs, what to fall back to, what was rejected. */
export interface CurrentPointer {
  format: 1;
  active?: VersionRef;
  previous?: VersionRef;
  /** Desired generation that produced the active version (0 when unknown). */
  generation: number;
  rolloutId: string;
  rejected: RejectedVersion[];
}

export interface InstalledVersion {
  artifactPath: string;
  signature: ArtifactSignature;
}

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;
const MAX_REJECTED = 32;

export function emptyPointer(): CurrentPointer {
  return { format: 1, generation: 0, rolloutId: '', rejected: [] };
}

/**
 * The on-disk model slots: `<dataDir>/models/<model>/<version>/{artifact,manifest.json,signature.json}`
 * and `current.json`, replaced atomically, so a rebooted agent resumes its last good model offline.
 */
export class ModelStore {
  readonly root: string;

  constructor(dataDir: string) {
    this.root = join(dataDir, 'models');
  }

  versionDir(ref: VersionRef): string {
    return join(this.root, safe(ref.model), safe(ref.version));
  }

  /** Partial download of one exact artifact (the digest is in the name, so a resume never mixes artifacts). */
  async partialPath(ref: VersionRef, sha256: string): Promise<string> {
    const dir = join(this.root, '.partial');
    await mkdir(dir, { recursive: true });
    return join(dir, `${safe(ref.model)}@${safe(ref.version)}.${sha256.slice(0, 16).replace(/[^0-9a-f]/gi, '')}.part`);
  }

  /** The pointer; an absent or unreadable file reads as empty (the agent then waits for desired state). */
  async readPointer(): Promise<CurrentPointer> {
    try {
      const parsed = JSON.parse(await readFile(join(this.root, 'current.json'), 'utf8')) as CurrentPointer;
      return parsed.format === 1 ? { ...emptyPointer(), ...parsed } : emptyPointer();
    } catch {
      return emptyPointer();
    }
  }

  async writePointer(p: CurrentPointer): Promise<void> {
    await mkdir(this.root, { recursive: true });
    const trimmed = { ...p, rejected: p.rejected.slice(-MAX_REJECTED) };
    await writeFileAtomic(join(this.root, 'current.json'), `${JSON.stringify(trimmed, null, 2)}\n`);
  }

  /** Moves a verified partial download into its version directory with its signed manifest and signature. */
  async install(ref: VersionRef, partial: string, manifest: ModelManifest, sig: ArtifactSignature): Promise<void> {
    const dir = this.versionDir(ref);
    await mkdir(dir, { recursive: true });
    await writeFileAtomic(join(dir, 'signature.json'), JSON.stringify(sig));
    // Informational copy for operators; the agent always re-derives the manifest from the signature.
    await writeFileAtomic(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
    await rename(partial, join(dir, 'artifact'));
    await fsyncDir(dir);
  }

  /** Replaces the signature of an installed version (the same signed bytes, re-signed by another key). */
  async writeSignature(ref: VersionRef, sig: ArtifactSignature): Promise<void> {
    await writeFileAtomic(join(this.versionDir(ref), 'signature.json'), JSON.stringify(sig));
  }

  /** @throws MillwrightError NOT_FOUND when the version directory is missing or incomplete. */
  async readInstalled(ref: VersionRef): Promise<InstalledVersion> {
    const dir = this.versionDir(ref);
    try {
      const signature = JSON.parse(await readFile(join(dir, 'signature.json'), 'utf8')) as ArtifactSignature;
      return { artifactPath: join(dir, 'artifact'), signature };
    } catch (err) {
      throw new MillwrightError(
        ErrorCode.NOT_FOUND,
        `${ref.model}@${ref.version} is not installed`,
        { ...ref },
        { cause: err },
      );
    }
  }

  async remove(ref: VersionRef): Promise<void> {
    await rm(this.versionDir(ref), { recursive: true, force: true });
  }

  /** Deletes installed versions other than `keep` (best effort: a failure only costs disk). */
  async prune(keep: readonly VersionRef[]): Promise<void> {
    const keepDirs = new Set(keep.map((r) => this.versionDir(r)));
    for (const model of await listDirs(this.root)) {
      if (model.startsWith('.')) continue;
      for (const version of await listDirs(join(this.root, model))) {
        const dir = join(this.root, model, version);
        if (!keepDirs.has(dir)) await rm(dir, { recursive: true, force: true });
      }
    }
  }
}

async function listDirs(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return [];
  }
}

function safe(name: string): string {
  if (!SAFE_NAME.test(name)) {
    throw new MillwrightError(ErrorCode.INVALID, `unsafe model or version name ${JSON.stringify(name)}`, { name });
  }
  return name;
}
