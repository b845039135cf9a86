/** In-memory fakes of the registry ports for unit tests. */
import type { AuditEntry } from '../audit/ports.js';
import { AlreadyExistsError } from '../domain/errors.js';
import type { AliasChange, Model, ModelVersion, Page, TrustKey } from './domain.js';
import type { ArtifactStore, ArtifactUpload, ArtifactVerifier, RegistryStore, RegistryTx, Verdict } from './ports.js';

interface State {
  models: Map<string, Omit<Model, 'aliases'>>;
  versions: Map<string, Omit<ModelVersion, 'aliases'>>;
  aliases: Map<string, Map<string, string>>;
  aliasHistory: AliasChange[];
  audit: AuditEntry[];
  keys: Map<string, TrustKey>;
}

const vkey = (model: string, version: string) => `${model}\u0000${version}`;

function emptyState(): State {
  return { models: new Map(), versions: new Map(), aliases: new Map(), aliasHistory: [], audit: [], keys: new Map() };
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

  async registerSigningKey(key: { keyId: string; publicKey: string }, atMs: number): Promise<void> {
    for (const k of this.state.keys.values()) k.active = false;
    const existing = this.state.keys.get(key.keyId);
    this.state.keys.set(key.keyId, { ...key, active: true, createdAtMs: existing?.createdAtMs ?? atMs });
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
