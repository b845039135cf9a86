/** In-memory fakes of the registry ports for unit tests. */
import type { AuditEntry } from '../audit/ports.js';
import { AlreadyExistsError } from '../domain/errors.js';
import type { AliasChange, Model, ModelVersion, Page, TrustBundleData, TrustKey, VersionSignature } from './domain.js';
import type {
  ArtifactStore,
  ArtifactUpload,
  ArtifactVerifier,
  PublicKeyRef,
  RegistryStore,
  RegistryTx,
  SigningKeyStore,
  SigningKeyTx,
  Verdict,
} from './ports.js';

interface State {
  models: Map<string, Omit<Model, 'aliases'>>;
  versions: Map<string, Omit<ModelVersion, 'aliases'>>;
  aliases: Map<string, Map<string, string>>;
  aliasHistory: AliasChange[];
  audit: AuditEntry[];
  keys: Map<string, TrustKey>;
  bundles: TrustBundleData[];
}

const vkey = (model: string, version: string) => `${model}\u0000${version}`;

function emptyState(): State {
  return {
    models: new Map(),
    versions: new Map(),
    aliases: new Map(),
    aliasHistory: [],
    audit: [],
    keys: new Map(),
    bundles: [],
  };
}

/** Transactions run one at a time; a failing one leaves the state as it was. */
export class InMemoryRegistryStore implements RegistryStore {
  private state = emptyState();
  private queue: Promise<unknown> = Promise.resolve();

  /** Audit entries written so far (for assertions). */
  get audit(): readonly AuditEntry[] {
    return this.state.audit;
  }

  async transaction<T>(fn: (tx: RegistryTx) => Promise<T>): Promise<T> {
    const run = async () => {
      const before = structuredClone(this.state);
      try {
        return await fn(this.tx());
      } catch (err) {
        this.state = before;
        throw err;
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Test setup: sets a signing key row as given. */
  putSigningKey(key: TrustKey): void {
    this.state.keys.set(key.keyId, { ...key });
  }

  async signingKey(keyId: string): Promise<TrustKey | undefined> {
    const k = this.state.keys.get(keyId);
    return k && { ...k };
  }

  async latestTrustBundle(): Promise<TrustBundleData | undefined> {
    return this.state.bundles.at(-1);
  }

  async getModel(name: string): Promise<Model | undefined> {
    const m = this.state.models.get(name);
    return m && { ...m, aliases: Object.fromEntries(this.state.aliases.get(name) ?? []) };
  }

  async listModels(page: Page): Promise<{ models: Model[]; total: number }> {
    const names = [...this.state.models.keys()].sort();
    const after = names.filter((n) => page.after === undefined || n > page.after).slice(0, page.limit);
    const models = await Promise.all(after.map((n) => this.getModel(n)));
    return { models: models.filter((m): m is Model => m !== undefined), total: names.length };
  }

  async getVersion(model: string, version: string): Promise<ModelVersion | undefined> {
    const v = this.state.versions.get(vkey(model, version));
    return v && this.withAliases(v);
  }

  async getAlias(model: string, alias: string): Promise<string | undefined> {
    return this.state.aliases.get(model)?.get(alias);
  }

  async listVersions(model: string, page: Page): Promise<{ versions: ModelVersion[]; total: number }> {
    const all = [...this.state.versions.values()].filter((v) => v.model === model);
    all.sort((a, b) => b.sequence - a.sequence);
    const after = page.after === undefined ? Number.POSITIVE_INFINITY : Number(page.after);
    const versions = all.filter((v) => v.sequence < after).slice(0, page.limit);
    return { versions: versions.map((v) => this.withAliases(v)), total: all.length };
  }

  async listAliasHistory(model: string, alias: string, limit: number): Promise<AliasChange[]> {
    return this.state.aliasHistory
      .filter((c) => c.model === model && (!alias || c.alias === alias))
      .reverse()
      .slice(0, limit);
  }

  async listTrustKeys(): Promise<TrustKey[]> {
    return [...this.state.keys.values()].sort((a, b) => a.createdAtMs - b.createdAtMs);
  }

  private withAliases(v: Omit<ModelVersion, 'aliases'>): ModelVersion {
    const aliases = [...(this.state.aliases.get(v.model) ?? [])].filter(([, to]) => to === v.version).map(([a]) => a);
    return { ...v, aliases: aliases.sort() };
  }

  private tx(): RegistryTx {
    const s = () => this.state;
    return {
      createModel: async (m) => {
        if (s().models.has(m.name)) return false;
        s().models.set(m.name, { ...m, latestSequence: 0 });
        return true;
      },
      lockModel: (name) => this.getModel(name),
      getVersion: (model, version) => this.getVersion(model, version),
      getAlias: (model, alias) => this.getAlias(model, alias),
      insertVersion: async (v) => {
        if (s().versions.has(vkey(v.model, v.version)))
          throw new AlreadyExistsError('version', `${v.model}@${v.version}`);
        s().versions.set(vkey(v.model, v.version), structuredClone(v));
      },
      setLatestSequence: async (model, sequence) => {
        const m = s().models.get(model);
        if (m) m.latestSequence = sequence;
      },
      setAlias: async (model, alias, version) => {
        const map = s().aliases.get(model) ?? new Map<string, string>();
        map.set(alias, version);
        s().aliases.set(model, map);
      },
      appendAliasChange: async (c) => {
        s().aliasHistory.push({ ...c });
      },
      appendAudit: async (e) => {
        s().audit.push(structuredClone(e));
      },
      lockSigningKey: (keyId) => this.signingKey(keyId),
      // Unit tests set no key rows: the injected signer decides which key is active.
      lockActiveKey: async () => [...this.state.keys.values()].find((k) => k.active)?.keyId ?? 'fake-active',
    };
  }
}

/** Objects in a map; uploads appear only once complete. */
export class InMemoryArtifactStore implements ArtifactStore {
  readonly objects = new Map<string, Uint8Array>();

  startUpload(key: string): ArtifactUpload {
    const parts: Uint8Array[] = [];
    return {
      write: async (chunk) => {
        parts.push(Uint8Array.from(chunk));
      },
      complete: async () => {
        this.objects.set(key, Buffer.concat(parts));
      },
      abort: async () => {
        parts.length = 0;
      },
    };
  }

  async copy(from: string, to: string): Promise<void> {
    const bytes = this.objects.get(from);
    if (!bytes) throw new Error(`no object ${from}`);
    this.objects.set(to, bytes);
  }

  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }

  async presignGet(key: string, ttlS: number): Promise<string> {
    return `memory://${key}?ttl=${ttlS}`;
  }
}

/** Accepts everything unless told otherwise. */
export class FakeArtifactVerifier implements ArtifactVerifier {
  verdict: Verdict = { ok: true };
  readonly seen: Uint8Array[] = [];

  async verify(_manifest: unknown, artifact: Uint8Array): Promise<Verdict> {
    this.seen.push(artifact);
    return this.verdict;
  }
}

interface FakeDesired {
  generation: number;
  model?: VersionSignature;
  shadow?: VersionSignature;
  reason: string;
}

/** Signing keys, bundles, versions and agents' desired states in memory (one transaction at a time). */
export class InMemorySigningKeyStore implements SigningKeyStore {
  keys: TrustKey[] = [];
  readonly bundles: TrustBundleData[] = [];
  readonly audit: AuditEntry[] = [];
  /** `model@version` -> stored signature and whether an alias, desired state or rollout names it. */
  readonly versions = new Map<string, { signature: VersionSignature; deployed: boolean }>();
  readonly desired = new Map<string, FakeDesired>();
  /** Agents that are not decommissioned. */
  readonly agents = new Set<string>();
  private queue: Promise<unknown> = Promise.resolve();

  async activeKeyId(): Promise<string | undefined> {
    return this.keys.find((k) => k.active)?.keyId;
  }

  async adoptInitialKey(key: PublicKeyRef, atMs: number): Promise<string> {
    const active = await this.activeKeyId();
    if (active) return active;
    this.keys.push({ ...key, active: true, createdAtMs: atMs });
    return key.keyId;
  }

  async latestBundle(): Promise<TrustBundleData | undefined> {
    return this.bundles.at(-1);
  }

  transaction<T>(fn: (tx: SigningKeyTx) => Promise<T>): Promise<T> {
    const run = async () => {
      const before = structuredClone({
        keys: this.keys,
        bundles: this.bundles,
        versions: [...this.versions],
        desired: [...this.desired],
        audit: this.audit,
      });
      try {
        return await fn(this.tx());
      } catch (err) {
        this.keys = before.keys;
        this.bundles.splice(0, Infinity, ...before.bundles);
        this.audit.splice(0, Infinity, ...before.audit);
        this.versions.clear();
        for (const [k, v] of before.versions) this.versions.set(k, v);
        this.desired.clear();
        for (const [k, v] of before.desired) this.desired.set(k, v);
        throw err;
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private tx(): SigningKeyTx {
    return {
      lockKeys: async () => this.keys.map((k) => ({ ...k })),
      lockDesiredStates: async () => {},
      recentChange: async (q) => {
        const e = this.audit.findLast(
          (a) => a.action === q.action && a.actor === q.actor && a.reason === q.reason && (a.atMs ?? 0) > q.sinceMs,
        );
        return e && { target: e.target, atMs: e.atMs ?? 0 };
      },
      activate: async (key, atMs) => {
        if (!this.keys.some((k) => k.keyId === key.keyId)) this.keys.push({ ...key, active: false, createdAtMs: atMs });
        for (const k of this.keys) k.active = k.keyId === key.keyId;
      },
      revoke: async (keyId, atMs, reason) => {
        for (const k of this.keys)
          if (k.keyId === keyId) Object.assign(k, { revokedAtMs: atMs, revokedReason: reason });
      },
      staleSignatures: async (active) => {
        const versions = [...this.versions]
          .filter(([, v]) => v.deployed && v.signature.keyId !== active)
          .map(([id, v]) => ({ model: id.split('@')[0]!, version: id.split('@')[1]!, signature: v.signature }));
        const desired = [...this.desired.values()]
          .flatMap((d) => [d.model, d.shadow])
          .filter((s): s is VersionSignature => s !== undefined && s.keyId !== active);
        return { versions, desired };
      },
      setVersionSignature: async (model, version, signature) => {
        const v = this.versions.get(`${model}@${version}`);
        if (v) v.signature = signature;
      },
      versionsSignedBy: async (keyIds, limit) =>
        [...this.versions]
          .filter(([, v]) => keyIds.includes(v.signature.keyId))
          .map(([id]) => id)
          .slice(0, limit),
      nextBundleSequence: async () => (this.bundles.at(-1)?.sequence ?? 0) + 1,
      insertBundle: async (b) => {
        this.bundles.push(structuredClone(b));
      },
      reissueDesired: async (resigned, why) => {
        let n = 0;
        for (const agent of this.agents) {
          const d = this.desired.get(agent);
          if (!d) {
            this.desired.set(agent, { generation: 1, reason: why.reason });
            n++;
          } else if (!why.missingOnly) {
            const swap = (s?: VersionSignature) => (s && resigned.get(s.payload)) ?? s;
            this.desired.set(agent, {
              generation: d.generation + 1,
              reason: why.reason,
              ...(d.model ? { model: swap(d.model) } : {}),
              ...(d.shadow ? { shadow: swap(d.shadow) } : {}),
            });
            n++;
          }
        }
        return n;
      },
      appendAudit: async (e) => {
        this.audit.push(structuredClone(e));
      },
    };
  }
}
