import { randomUUID } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Logger } from 'pino';
import { EdgeRuntimeVerifier } from './adapters/edge-runtime/verifier.js';
import { modelRegistryBinding } from './adapters/grpc/registry.js';
import { encodeSignedPayload, encodeTrustBundlePayload } from './adapters/grpc/registry-mapping.js';
import type { GrpcServiceBinding } from './adapters/grpc/server.js';
import type { Db } from './adapters/postgres/db.js';
import { PostgresLeaderElection } from './adapters/postgres/leader.js';
import { PostgresRegistryStore } from './adapters/postgres/registry-store.js';
import { PostgresSigningKeyStore } from './adapters/postgres/signing-key-store.js';
import { S3ArtifactStore } from './adapters/s3/artifact-store.js';
import type { Config } from './config.js';
import { Keyring } from './registry/keyring.js';
import { SigningKeyService } from './registry/keys.js';
import { RegistryService } from './registry/service.js';

const BUCKET_CHECK_MS = 10_000;

/** Advisory lock of the trust sweep's leader (beside schema.ts `leaderLocks`). */
export const TRUST_SWEEP_LOCK_ID = 0x4d570004;

/**
 * Builds the model registry for main.ts: loads the signing keys and makes the configured one active
 * on a fresh database, checks the artifact bucket in the background (an S3 outage must not keep the
 * fleet API down; uploads retry it), and returns the gRPC binding. `start` runs the trust sweep that
 * gives agents enrolled since the last key change the newest trust bundle, on the one replica that
 * holds its leader lock.
 */
export async function wireRegistry(deps: {
  config: Pick<Readonly<Config>, 's3' | 'signing' | 'registry' | 'database' | 'leader'>;
  db: Db;
  s3: S3Client;
  log: Logger;
}) {
  const { config } = deps;
  const log = deps.log.child({ component: 'registry' });
  const store = new PostgresRegistryStore({ db: deps.db });
  const keys = new SigningKeyService({
    store: new PostgresSigningKeyStore({ db: deps.db }),
    keys: Keyring.load(config.signing),
    encodeBundle: encodeTrustBundlePayload,
    now: Date.now,
    log,
  });
  await keys.init();
  const artifacts = new S3ArtifactStore({ client: deps.s3, bucket: config.s3.bucket });
  artifacts.ensureBucket(AbortSignal.timeout(BUCKET_CHECK_MS)).then(
    () => log.info({ bucket: config.s3.bucket }, 'registry.bucket.ready'),
    (err: unknown) => log.warn({ err, bucket: config.s3.bucket }, 'registry.bucket.unavailable'),
  );
  const registry = new RegistryService({
    store,
    artifacts,
    verifier: new EdgeRuntimeVerifier(),
    signer: () => keys.activeSigner(),
    encodePayload: encodeSignedPayload,
    now: Date.now,
    newId: randomUUID,
    limits: { maxArtifactBytes: config.registry.maxArtifactBytes, presignTtlS: config.s3.presignTtlS },
    log,
  });
  const binding: GrpcServiceBinding = modelRegistryBinding({
    registry,
    keys,
    log: deps.log.child({ component: 'grpc' }),
  });
  const leader = new PostgresLeaderElection({
    url: config.database.url,
    lockId: TRUST_SWEEP_LOCK_ID,
    name: 'trust_sweep',
    retryMs: config.leader.retryS * 1000,
    log: log.child({ component: 'leader' }),
  });
  let timer: NodeJS.Timeout | undefined;
  let sweeping: Promise<unknown> = Promise.resolve();
  return {
    registry,
    keys,
    binding,
    start(): void {
      leader.start();
      let busy = false;
      timer = setInterval(() => {
        if (busy || !leader.isLeader()) return;
        busy = true;
        sweeping = keys
          .sweep()
          .catch((err: unknown) => log.warn({ err }, 'registry.trust.sweep_failed'))
          .finally(() => {
            busy = false;
          });
      }, config.signing.trustSweepS * 1000);
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      await sweeping;
      await keys.settled();
      await leader.stop();
    },
  };
}
