import type { AuditEntry } from '../audit/ports.js';
import type { AliasChange, Manifest, Model, ModelVersion, Page, SignedPayloadData, TrustKey } from './domain.js';

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
  listTrustKeys(): Promise<TrustKey[]>;
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
}

/** Where the registry lives: Postgres in production, `InMemoryRegistryStore` in unit tests. */
export interface RegistryStore extends RegistryReads {
  /** Runs `fn` in one transaction: all its writes commit together or not at all. */
  transaction<T>(fn: (tx: RegistryTx) => Promise<T>): Promise<T>;
  /** Records `key` as the active signing key; other keys become inactive but stay listed as trust keys. */
  registerSigningKey(key: { keyId: string; publicKey: string }, atMs: number): Promise<void>;
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

/** Signs with the active ed25519 key. */
export interface Signer {
  /** First 16 hex characters of sha256(raw public key). */
  readonly keyId: string;
  sign(payload: Uint8Array): Uint8Array;
}

/** Canonical bytes of a signed payload (the SignedPayload protobuf in production). */
export type PayloadEncoder = (payload: SignedPayloadData) => Uint8Array;
