import type { Logger } from 'pino';
import type { ActiveSigner, ArtifactStore, ArtifactVerifier, PayloadEncoder, RegistryStore } from './ports.js';

/** Everything the registry use cases need; built once in main. */
export interface RegistryDeps {
  store: RegistryStore;
  artifacts: ArtifactStore;
  verifier: ArtifactVerifier;
  /**
   * The active signing key (`SigningKeyService.activeSigner`).
   * @throws PreconditionError when no key is active or this replica does not hold it: uploads are refused.
   */
  signer: ActiveSigner;
  encodePayload: PayloadEncoder;
  now: () => number;
  /** Random id for temporary upload keys. */
  newId: () => string;
  limits: {
    /** @default 256 MiB (config registry.maxArtifactBytes) */
    maxArtifactBytes: number;
    /** Lifetime of presigned artifact URLs (config s3.presignTtlS). */
    presignTtlS: number;
  };
  log: Logger;
}
