import type { AuditEntry } from '../audit/ports.js';
import type {
  AliasChange,
  Manifest,
  Model,
  ModelVersion,
  Page,
  SignedPayloadData,
  TrustBundleContent,
  TrustBundleData,
  TrustKey,
  VersionSignature,
} from './domain.js';

/** Reads of the registry (outside any transaction). */
export interface RegistryReads {
  getModel(name: string): Promise<Model | undefined>;
  /** Models by name ascending, after `page.after` (a name). */
  listModels(page: Page): Promise<{ models: Model[]; total: number }>;
  getVersion(model: string, version: string): Promise<ModelVersion | undefined>;
  /** The version an alias points at. */
  getAlias(model: string, alias: string): Promise<string | undefined>;
  /** Versions newest first (sequence descending), after `page.after` (a sequence, decimal). */
  listVersions(model: string, page: Page): Promise<{ versions: ModelVersion[]; total: number }>;
  /** Alias moves newest first; every alias of the model when `alias` is ''. */
  listAliasHistory(model: string, alias: string, limit: number): Promise<AliasChange[]>;
  /** Every signing key, revoked ones included. */
  listTrustKeys(): Promise<TrustKey[]>;
  signingKey(keyId: string): Promise<TrustKey | undefined>;
  /** The newest trust bundle; undefined before the first rotation or revocation. */
  latestTrustBundle(): Promise<TrustBundleData | undefined>;
}

/** Writes inside one transaction; the service opens it with `RegistryStore.transaction`. */
export interface RegistryTx {
  /** Inserts the model; false when the name is taken. */
  createModel(model: { name: string; description: string; createdAtMs: number }): Promise<boolean>;
  /** Reads the model and locks it until the transaction ends (serialises sequence assignment). */
  lockModel(name: string): Promise<Model | undefined>;
  getVersion(model: string, version: string): Promise<ModelVersion | undefined>;
  getAlias(model: string, alias: string): Promise<string | undefined>;
  /** @throws AlreadyExistsError when (model, version) exists. */
  insertVersion(version: Omit<ModelVersion, 'aliases'>): Promise<void>;
  setLatestSequence(model: string, sequence: number): Promise<void>;
  setAlias(model: string, alias: string, version: string, atMs: number): Promise<void>;
  appendAliasChange(change: AliasChange): Promise<void>;
  appendAudit(entry: AuditEntry): Promise<void>;
  /** Reads a signing key, holding off its revocation until the transaction ends. */
  lockSigningKey(keyId: string): Promise<TrustKey | undefined>;
  /**
   * The id of the active signing key, holding off key changes until the transaction ends: a version
   * committed with it is either committed before a rotation (which re-signs it) or signed by the new key.
   */
  lockActiveKey(): Promise<string | undefined>;
}

/** Where the registry lives: Postgres in production, `InMemoryRegistryStore` in unit tests. */
export interface RegistryStore extends RegistryReads {
  /** Runs `fn` in one transaction: all its writes commit together or not at all. */
  transaction<T>(fn: (tx: RegistryTx) => Promise<T>): Promise<T>;
}

/** A public key and its id. */
export interface PublicKeyRef {
  keyId: string;
  publicKey: string;
}

/** A version's stored signature. */
export interface VersionSignatureRef {
  model: string;
  version: string;
  signature: VersionSignature;
}

/** Signing keys, trust bundles and the desired states they reach (Postgres `signing_keys`, `trust_bundles`). */
export interface SigningKeyStore {
  activeKeyId(): Promise<string | undefined>;
  /**
   * Makes `key` the active key when no key is active (a fresh database); otherwise changes nothing.
   * @returns the id of the active key afterwards.
   */
  adoptInitialKey(key: PublicKeyRef, atMs: number): Promise<string>;
  latestBundle(): Promise<TrustBundleData | undefined>;
  /** Runs `fn` in one transaction. */
  transaction<T>(fn: (tx: SigningKeyTx) => Promise<T>): Promise<T>;
}

/** Writes of a key rotation or revocation, all in one transaction. */
export interface SigningKeyTx {
  /** Every signing key, locked until the transaction ends: key changes run one at a time. */
  lockKeys(): Promise<TrustKey[]>;
  /** Takes the lock every desired-state writer takes first (after `lockKeys`), until the transaction ends. */
  lockDesiredStates(): Promise<void>;
  /** The newest audited `action` by `actor` with exactly `reason` after `sinceMs`, if any. */
  recentChange(q: {
    action: string;
    actor: string;
    reason: string;
    sinceMs: number;
  }): Promise<{ target: string; atMs: number } | undefined>;
  /** Inserts `key` when new and makes it the only active key. */
  activate(key: PublicKeyRef, atMs: number): Promise<void>;
  revoke(keyId: string, atMs: number, reason: string): Promise<void>;
  /**
   * Signatures not by `activeKeyId` that agents may still need: of versions that are aliased, named by
   * a desired state or by an active rollout, or that an agent reported running or as its previous
   * version (`versions`), and the distinct signatures desired states
   * carry (`desired`; a signed rollback signs other bytes than the version's own signature).
   */
  staleSignatures(activeKeyId: string): Promise<{ versions: VersionSignatureRef[]; desired: VersionSignature[] }>;
  setVersionSignature(model: string, version: string, signature: VersionSignature): Promise<void>;
  /** `model@version` of versions signed by one of `keyIds`, at most `limit`. */
  versionsSignedBy(keyIds: readonly string[], limit: number): Promise<string[]>;
  /** Latest bundle sequence + 1. */
  nextBundleSequence(): Promise<number>;
  insertBundle(bundle: TrustBundleData, by: { actor: string; reason: string; atMs: number }): Promise<void>;
  /**
   * Re-issues the desired state of every agent that is not decommissioned (generation + 1, KV write
   * pending: the key change publishes it after commit, else the rollout controller's repair pass, with
   * the newest bundle), swapping each model or shadow signature whose payload is in `resigned` (keyed
   * by base64 payload) and replacing `resignatures` with the active key's signatures of the versions
   * the agent runs or falls back to besides those; agents without a desired state get one that names
   * no model. With `missingOnly` only the latter.
   * @returns the number of agents whose desired state was written.
   */
  reissueDesired(
    resigned: ReadonlyMap<string, VersionSignature>,
    why: { reason: string; atMs: number; missingOnly?: boolean },
  ): Promise<number>;
  appendAudit(entry: AuditEntry): Promise<void>;
}

/** An object being written; bytes go out as they arrive (multipart for S3). */
export interface ArtifactUpload {
  write(chunk: Uint8Array): Promise<void>;
  /** Completes the object; it is readable afterwards. */
  complete(): Promise<void>;
  /** Abandons the object: nothing of it is left in the store. */
  abort(): Promise<void>;
}

/** Object storage for artifacts (S3 in production, `InMemoryArtifactStore` in unit tests). */
export interface ArtifactStore {
  startUpload(key: string, signal?: AbortSignal): ArtifactUpload;
  /** Server-side copy; the bytes do not pass through the control plane. */
  copy(from: string, to: string, signal?: AbortSignal): Promise<void>;
  /** Deletes the object; deleting a missing object succeeds. */
  delete(key: string, signal?: AbortSignal): Promise<void>;
  /** A GET URL valid for `ttlS` seconds. */
  presignGet(key: string, ttlS: number): Promise<string>;
}

/** Why an artifact does not match its manifest, naming the manifest field at fault. */
export type Verdict = { ok: true } | { ok: false; field: string; message: string };

/** Loads an artifact with the edge runtime of its manifest and runs the manifest's self-test vectors. */
export interface ArtifactVerifier {
  verify(manifest: Manifest, artifact: Uint8Array): Promise<Verdict>;
}

/** Signs with one ed25519 key. */
export interface Signer {
  /** First 16 hex characters of sha256(raw public key). */
  readonly keyId: string;
  sign(payload: Uint8Array): Uint8Array;
}

/** Canonical bytes of a signed payload (the SignedPayload protobuf in production). */
export type PayloadEncoder = (payload: SignedPayloadData) => Uint8Array;

/** Canonical bytes of a trust bundle (the TrustBundlePayload protobuf in production). */
export type BundleEncoder = (content: TrustBundleContent) => Uint8Array;

/**
 * The key that signs new versions, as this replica can use it; `activeKeyId` when the caller read it
 * under a lock (`RegistryTx.lockActiveKey`), else it is read now.
 */
export type ActiveSigner = (activeKeyId?: string) => Promise<Signer>;
