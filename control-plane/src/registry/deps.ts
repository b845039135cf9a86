import type { Logger } from 'pino';
import type { ArtifactStore, ArtifactVerifier, PayloadEncoder, RegistryStore, Signer } from './ports.js';

/** Everything the registry use cases need; built once in main. */
export interface RegistryDeps {
  store: RegistryStore;
  artifacts: ArtifactStore;
  verifier: ArtifactVerifier;
  /** Undefined when no key is configured: uploads are then refused. */
  signer: Signer | undefined;
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
