import type { ServerReadableStream } from '@grpc/grpc-js';
import {
  type CreateModelRequest,
  type GetArtifactUrlRequest,
  type GetArtifactUrlResponse,
  type GetModelRequest,
  type GetVersionRequest,
  type ListAliasHistoryRequest,
  type ListAliasHistoryResponse,
  type ListModelsRequest,
  type ListModelsResponse,
  type ListTrustKeysResponse,
  type ListVersionsRequest,
  type ListVersionsResponse,
  type Model as ModelPb,
  ModelRegistryServiceService,
  type ModelVersion as ModelVersionPb,
  type RevokeSigningKeyRequest,
  type RevokeSigningKeyResponse,
  type RotateSigningKeyRequest,
  type RotateSigningKeyResponse,
  type SetAliasRequest,
  type UploadVersionRequest,
} from '@millwright/proto';
import type { Logger } from 'pino';
import { ErrorCode, InvalidArgumentError, MillwrightError } from '../../domain/errors.js';
import type { SigningKeyService } from '../../registry/keys.js';
import type { RegistryService } from '../../registry/service.js';
import type { UploadHeader } from '../../registry/upload.js';
import { callerOf } from './actor.js';
import { clientStreaming, unary } from './handlers.js';
import { aliasChangeToPb, manifestFromPb, modelToPb, trustKeyToPb, versionToPb } from './registry-mapping.js';
import type { GrpcServiceBinding } from './server.js';

type Upload = ServerReadableStream<UploadVersionRequest, ModelVersionPb>;

/** ModelRegistryService over the registry: every RPC of the contract. */
export function modelRegistryBinding(deps: {
  registry: RegistryService;
  keys: SigningKeyService;
  log: Logger;
}): GrpcServiceBinding {
  const { registry, keys, log } = deps;
  return {
    name: 'millwright.v1.ModelRegistryService',
    definition: ModelRegistryServiceService,
    implementation: {
      createModel: unary<CreateModelRequest, ModelPb>(log, 'CreateModel', async (req, call) =>
        modelToPb(await registry.createModel(req.name, req.description, callerOf(call))),
      ),
      getModel: unary<GetModelRequest, ModelPb>(log, 'GetModel', async (req) =>
        modelToPb(await registry.getModel(req.name)),
      ),
      listModels: unary<ListModelsRequest, ListModelsResponse>(log, 'ListModels', async (req) => {
        const res = await registry.listModels(req.page?.pageSize ?? 0, req.page?.pageToken ?? '');
        return { models: res.models.map(modelToPb), page: { nextPageToken: res.nextPageToken, total: res.total } };
      }),
      uploadVersion: clientStreaming<UploadVersionRequest, ModelVersionPb>(log, 'UploadVersion', (call) =>
        upload(registry, call),
      ),
      getVersion: unary<GetVersionRequest, ModelVersionPb>(log, 'GetVersion', async (req) =>
        versionToPb(await registry.getVersion(req.model, req.version)),
      ),
      listVersions: unary<ListVersionsRequest, ListVersionsResponse>(log, 'ListVersions', async (req) => {
        const res = await registry.listVersions(req.model, req.page?.pageSize ?? 0, req.page?.pageToken ?? '');
        return {
          versions: res.versions.map(versionToPb),
          page: { nextPageToken: res.nextPageToken, total: res.total },
        };
      }),
      setAlias: unary<SetAliasRequest, ModelPb>(log, 'SetAlias', async (req, call) =>
        modelToPb(await registry.setAlias(req, callerOf(call))),
      ),
      listAliasHistory: unary<ListAliasHistoryRequest, ListAliasHistoryResponse>(
        log,
        'ListAliasHistory',
        async (req) => ({
          changes: (await registry.listAliasHistory(req.model, req.alias)).map(aliasChangeToPb),
        }),
      ),
      getArtifactUrl: unary<GetArtifactUrlRequest, GetArtifactUrlResponse>(log, 'GetArtifactUrl', (req) =>
        registry.getArtifactUrl(req.model, req.version),
      ),
      listTrustKeys: unary<unknown, ListTrustKeysResponse>(log, 'ListTrustKeys', async () => ({
        keys: (await registry.listTrustKeys()).map(trustKeyToPb),
      })),
      rotateSigningKey: unary<RotateSigningKeyRequest, RotateSigningKeyResponse>(
        log,
        'RotateSigningKey',
        async (req, call) => {
          const c = await keys.rotate({ keyId: req.keyId, reason: req.reason }, callerOf(call));
          return {
            key: trustKeyToPb(c.key),
            previous: c.previous && trustKeyToPb(c.previous),
            bundleSequence: c.bundleSequence,
            resignedVersions: c.resignedVersions,
            agents: c.agents,
          };
        },
      ),
      revokeSigningKey: unary<RevokeSigningKeyRequest, RevokeSigningKeyResponse>(
        log,
        'RevokeSigningKey',
        async (req, call) => {
          const c = await keys.revoke({ keyId: req.keyId, reason: req.reason }, callerOf(call));
          return {
            key: trustKeyToPb(c.key),
            bundleSequence: c.bundleSequence,
            resignedVersions: c.resignedVersions,
            agents: c.agents,
            unusableVersions: c.unusableVersions,
          };
        },
      ),
    },
  };
}

async function upload(registry: RegistryService, call: Upload): Promise<ModelVersionPb> {
  const abort = new AbortController();
  call.once('cancelled', () =>
    abort.abort(new MillwrightError(ErrorCode.UNAVAILABLE, 'the client cancelled the upload')),
  );
  const messages = call[Symbol.asyncIterator]() as AsyncIterator<UploadVersionRequest>;
  const next = untilAborted(messages, abort.signal);
  const header = await readHeader(next);
  const version = await registry.uploadVersion(header, chunks(next), callerOf(call), abort.signal);
  return versionToPb(version);
}

/** `messages.next()`, or a rejection once the call is cancelled (a cancelled stream may never end). */
function untilAborted(
  messages: AsyncIterator<UploadVersionRequest>,
  signal: AbortSignal,
): () => Promise<IteratorResult<UploadVersionRequest>> {
  const aborted = new Promise<never>((_, reject) =>
    signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
  );
  aborted.catch(() => undefined);
  return () => Promise.race([messages.next(), aborted]);
}

async function readHeader(next: () => Promise<IteratorResult<UploadVersionRequest>>): Promise<UploadHeader> {
  const first = await next();
  if (first.done || first.value.part?.$case !== 'manifest') {
    throw new InvalidArgumentError('manifest', 'the first message must carry the manifest');
  }
  return { manifest: manifestFromPb(first.value.part.value), expectedSha256: first.value.expectedSha256 };
}

async function* chunks(next: () => Promise<IteratorResult<UploadVersionRequest>>): AsyncGenerator<Uint8Array> {
  for (let r = await next(); !r.done; r = await next()) {
    if (r.value.part?.$case !== 'chunk') throw new InvalidArgumentError('chunk', 'only chunks may follow the manifest');
    yield r.value.part.value;
  }
}
