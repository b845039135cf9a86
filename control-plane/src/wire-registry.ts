import { randomUUID } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Logger } from 'pino';
import { EdgeRuntimeVerifier } from './adapters/edge-runtime/verifier.js';
import { modelRegistryBinding } from './adapters/grpc/registry.js';
import { encodeSignedPayload } from './adapters/grpc/registry-mapping.js';
import type { GrpcServiceBinding } from './adapters/grpc/server.js';
import type { Db } from './adapters/postgres/db.js';
import { PostgresRegistryStore } from './adapters/postgres/registry-store.js';
import { S3ArtifactStore } from './adapters/s3/artifact-store.js';
import type { Config } from './config.js';
import { RegistryService } from './registry/service.js';
import { loadSigner } from './registry/signing.js';

const BUCKET_CHECK_MS = 10_000;

/**
 * Builds the model registry for main.ts: loads the signing key and records its public key,
 * checks the artifact bucket in the background (an S3 outage must not keep the fleet API down;
 * uploads retry it), and returns the gRPC binding.
 */
export async function wireRegistry(deps: {
  config: Pick<Readonly<Config>, 's3' | 'signing' | 'registry'>;
  db: Db;
  s3: S3Client;
  log: Logger;
}): Promise<{ registry: RegistryService; binding: GrpcServiceBinding }> {
  const { config } = deps;
  const log = deps.log.child({ component: 'registry' });
  const store = new PostgresRegistryStore({ db: deps.db });
  const signer = loadSigner(config.signing);
  if (signer) {
    await store.registerSigningKey({ keyId: signer.keyId, publicKey: signer.publicKey }, Date.now());
    log.info({ keyId: signer.keyId }, 'registry.signing_key.active');
  } else {
    log.warn('registry.signing_key.missing: set signing.keyFile; uploads are refused');
  }
  const artifacts = new S3ArtifactStore({ client: deps.s3, bucket: config.s3.bucket });
  artifacts.ensureBucket(AbortSignal.timeout(BUCKET_CHECK_MS)).then(
    () => log.info({ bucket: config.s3.bucket }, 'registry.bucket.ready'),
    (err: unknown) => log.warn({ err, bucket: config.s3.bucket }, 'registry.bucket.unavailable'),
  );
  const registry = new RegistryService({
    store,
    artifacts,
    verifier: new EdgeRuntimeVerifier(),
    signer,
    encodePayload: encodeSignedPayload,
    now: Date.now,
    newId: randomUUID,
    limits: { maxArtifactBytes: config.registry.maxArtifactBytes, presignTtlS: config.s3.presignTtlS },
    log,
  });
  return { registry, binding: modelRegistryBinding({ registry, log: deps.log.child({ component: 'grpc' }) }) };
}
