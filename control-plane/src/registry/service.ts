import { AlreadyExistsError, InvalidArgumentError, NotFoundError, PreconditionError } from '../domain/errors.js';
import type { RegistryDeps } from './deps.js';
import {
  type AliasChange,
  type Caller,
  checkAlias,
  checkModelName,
  checkReason,
  checkVersion,
  checkVersionOrAlias,
  MAX_DESCRIPTION_CHARS,
  type Model,
  type ModelVersion,
  type TrustBundleData,
  type TrustKey,
  type VersionSignature,
} from './domain.js';
import { type UploadHeader, uploadVersion } from './upload.js';

export interface PageResult {
  nextPageToken: string;
  total: number;
}

const MAX_PAGE = 1000;
const DEFAULT_PAGE = 100;
const HISTORY_LIMIT = 1000;

/** Models, immutable signed versions, audited aliases, presigned artifact URLs and trust keys. */
export class RegistryService {
  constructor(private readonly deps: RegistryDeps) {}

  async createModel(name: string, description: string, caller: Caller): Promise<Model> {
    checkModelName('name', name);
    if (description.length > MAX_DESCRIPTION_CHARS) {
      throw new InvalidArgumentError('description', `at most ${MAX_DESCRIPTION_CHARS} characters`);
    }
    const now = this.deps.now();
    await this.deps.store.transaction(async (tx) => {
      if (!(await tx.createModel({ name, description, createdAtMs: now }))) throw new AlreadyExistsError('model', name);
      await tx.appendAudit({
        ...caller,
        action: 'model.create',
        target: `model/${name}`,
        detail: { description },
        reason: '',
        atMs: now,
      });
    });
    return this.getModel(name);
  }

  async getModel(name: string): Promise<Model> {
    checkModelName('name', name);
    const model = await this.deps.store.getModel(name);
    if (!model) throw new NotFoundError('model', name);
    return model;
  }

  async listModels(pageSize: number, pageToken: string): Promise<{ models: Model[] } & PageResult> {
    const limit = pageLimit(pageSize);
    const after = pageToken ? decodeToken('m', pageToken) : undefined;
    const { models, total } = await this.deps.store.listModels({ limit, after });
    const last = models.at(-1);
    return { models, total, nextPageToken: models.length === limit && last ? encodeToken('m', last.name) : '' };
  }

  uploadVersion(
    header: UploadHeader,
    chunks: AsyncIterable<Uint8Array>,
    caller: Caller,
    signal?: AbortSignal,
  ): Promise<ModelVersion> {
    return uploadVersion(this.deps, header, chunks, caller, signal);
  }

  /** `ref` is a version id or an alias; a version id wins (uploads and SetAlias keep the two apart). */
  async getVersion(model: string, ref: string): Promise<ModelVersion> {
    checkModelName('model', model);
    checkVersionOrAlias('version', ref);
    const direct = await this.deps.store.getVersion(model, ref);
    if (direct) return direct;
    const target = await this.deps.store.getAlias(model, ref);
    const viaAlias = target ? await this.deps.store.getVersion(model, target) : undefined;
    if (viaAlias) return viaAlias;
    await this.getModel(model);
    throw new NotFoundError('version or alias', `${model}@${ref}`);
  }

  async listVersions(
    model: string,
    pageSize: number,
    pageToken: string,
  ): Promise<{ versions: ModelVersion[] } & PageResult> {
    await this.getModel(model);
    const limit = pageLimit(pageSize);
    const after = pageToken ? decodeToken('v', pageToken) : undefined;
    if (after !== undefined && !/^\d+$/.test(after)) throw badToken();
    const { versions, total } = await this.deps.store.listVersions(model, { limit, after });
    const last = versions.at(-1);
    return {
      versions,
      total,
      nextPageToken: versions.length === limit && last ? encodeToken('v', String(last.sequence)) : '',
    };
  }

  /**
   * Points `alias` at `version`, recording the move in the alias history and the audit log in the
   * same transaction. Setting an alias to where it already points changes nothing.
   */
  async setAlias(
    req: { model: string; alias: string; version: string; reason: string },
    caller: Caller,
  ): Promise<Model> {
    checkModelName('model', req.model);
    checkAlias('alias', req.alias);
    checkVersion('version', req.version);
    checkReason('reason', req.reason);
    await this.deps.store.transaction(async (tx) => {
      if (!(await tx.lockModel(req.model))) throw new NotFoundError('model', req.model);
      if (await tx.getVersion(req.model, req.alias)) {
        throw new InvalidArgumentError(
          'alias',
          `${req.alias} is a version of ${req.model}; aliases and versions must differ`,
        );
      }
      const target = await tx.getVersion(req.model, req.version);
      if (!target) throw new NotFoundError('version', `${req.model}@${req.version}`);
      checkUsable(target, await tx.lockSigningKey(target.signature.keyId));
      const from = (await tx.getAlias(req.model, req.alias)) ?? '';
      if (from === req.version) return;
      const change: AliasChange = {
        model: req.model,
        alias: req.alias,
        fromVersion: from,
        toVersion: req.version,
        actor: caller.actor,
        reason: req.reason,
        atMs: this.deps.now(),
      };
      await tx.setAlias(req.model, req.alias, req.version, change.atMs);
      await tx.appendAliasChange(change);
      await tx.appendAudit({
        ...caller,
        action: 'model.alias.set',
        target: `model/${req.model}/alias/${req.alias}`,
        detail: { from, to: req.version },
        reason: req.reason,
        atMs: change.atMs,
      });
    });
    return this.getModel(req.model);
  }

  /**
   * A version that may still be rolled out: not signed only by a revoked key.
   * @throws PreconditionError naming the revoked key; NotFoundError for an unknown version.
   */
  async deployableVersion(model: string, ref: string): Promise<ModelVersion> {
    const v = await this.getVersion(model, ref);
    checkUsable(v, await this.deps.store.signingKey(v.signature.keyId));
    return v;
  }

  async listAliasHistory(model: string, alias: string): Promise<AliasChange[]> {
    checkModelName('model', model);
    if (alias) checkAlias('alias', alias);
    await this.getModel(model);
    return this.deps.store.listAliasHistory(model, alias, HISTORY_LIMIT);
  }

  async getArtifactUrl(model: string, ref: string): Promise<{ url: string; expiresAtMs: number }> {
    const version = await this.getVersion(model, ref);
    const ttlS = this.deps.limits.presignTtlS;
    const expiresAtMs = this.deps.now() + ttlS * 1000;
    return { url: await this.deps.artifacts.presignGet(version.artifactKey, ttlS), expiresAtMs };
  }

  /**
   * Signs an explicit rollback to `version` away from `from` (SignedPayload rollback = true,
   * rollback_from = from): the only way an agent accepts an older sequence, bound to one transition.
   * @throws PreconditionError without a signing key; NotFoundError for an unknown version.
   */
  async signRollback(model: string, version: string, from: string): Promise<VersionSignature> {
    checkVersion('from', from);
    const signer = await this.deps.signer();
    const v = await this.getVersion(model, version);
    const payload = this.deps.encodePayload({
      manifest: v.manifest,
      sha256: v.sha256,
      sizeBytes: v.sizeBytes,
      signedAtMs: this.deps.now(),
      rollback: true,
      rollbackFrom: from,
    });
    const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
    return { keyId: signer.keyId, signature: b64(signer.sign(payload)), payload: b64(payload) };
  }

  listTrustKeys(): Promise<TrustKey[]> {
    return this.deps.store.listTrustKeys();
  }

  /** The newest trust bundle, attached to every desired state written to KV. */
  trustBundle(): Promise<TrustBundleData | undefined> {
    return this.deps.store.latestTrustBundle();
  }
}

/** @throws PreconditionError when the version's only signature is by a revoked key. */
function checkUsable(v: ModelVersion, key: TrustKey | undefined): void {
  if (!key?.revokedAtMs) return;
  throw new PreconditionError(
    `${v.model}@${v.version} is signed only by revoked key ${key.keyId} (${key.revokedReason || 'no reason given'}): it can no longer be rolled out or aliased; register it again as a new version`,
    { field: 'version', keyId: key.keyId },
  );
}

function pageLimit(pageSize: number): number {
  if (pageSize < 0 || pageSize > MAX_PAGE)
    throw new InvalidArgumentError('page.page_size', `between 0 and ${MAX_PAGE}`);
  return pageSize || DEFAULT_PAGE;
}

function encodeToken(kind: string, value: string): string {
  return Buffer.from(`${kind}:${value}`).toString('base64url');
}

function decodeToken(kind: string, token: string): string {
  const text = Buffer.from(token, 'base64url').toString('utf8');
  if (!text.startsWith(`${kind}:`)) throw badToken();
  return text.slice(kind.length + 1);
}

function badToken(): InvalidArgumentError {
  return new InvalidArgumentError('page.page_token', 'not a token from a previous page');
}
