import { and, asc, count, desc, eq, gt, inArray, lt } from 'drizzle-orm';
import type { AuditEntry } from '../../audit/ports.js';
import { AlreadyExistsError } from '../../domain/errors.js';
import type {
  AliasChange,
  Manifest,
  Model,
  ModelVersion,
  Page,
  TrustBundleData,
  TrustKey,
  VersionSignature,
} from '../../registry/domain.js';
import type { RegistryStore, RegistryTx } from '../../registry/ports.js';
import { insertAudit } from './audit-store.js';
import type { Db } from './db.js';
import { aliasHistory, modelAliases, models, modelVersions, signingKeys, trustBundles } from './schema.js';

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
type Conn = Db | Tx;
type ModelRow = typeof models.$inferSelect;
type VersionRow = typeof modelVersions.$inferSelect;
type KeyRow = typeof signingKeys.$inferSelect;

const UNIQUE_VIOLATION = '23505';

/** The model registry in Postgres (tables models, model_versions, model_aliases, alias_history, signing_keys, audit_log). */
export class PostgresRegistryStore implements RegistryStore {
  constructor(private readonly deps: { db: Db }) {}

  transaction<T>(fn: (tx: RegistryTx) => Promise<T>): Promise<T> {
    return this.deps.db.transaction((tx) => fn(new PostgresRegistryTx(tx)));
  }

  getModel(name: string): Promise<Model | undefined> {
    return readModel(this.deps.db, name, false);
  }

  async listModels(page: Page): Promise<{ models: Model[]; total: number }> {
    const { db } = this.deps;
    const rows = await db
      .select()
      .from(models)
      .where(page.after === undefined ? undefined : gt(models.name, page.after))
      .orderBy(asc(models.name))
      .limit(page.limit);
    const aliases = await aliasesOf(
      db,
      rows.map((r) => r.name),
    );
    const [total] = await db.select({ n: count() }).from(models);
    return { models: rows.map((r) => toModel(r, aliases.get(r.name))), total: total?.n ?? 0 };
  }

  getVersion(model: string, version: string): Promise<ModelVersion | undefined> {
    return readVersion(this.deps.db, model, version);
  }

  getAlias(model: string, alias: string): Promise<string | undefined> {
    return readAlias(this.deps.db, model, alias);
  }

  async listVersions(model: string, page: Page): Promise<{ versions: ModelVersion[]; total: number }> {
    const { db } = this.deps;
    const rows = await db
      .select()
      .from(modelVersions)
      .where(
        and(
          eq(modelVersions.model, model),
          page.after === undefined ? undefined : lt(modelVersions.sequence, Number(page.after)),
        ),
      )
      .orderBy(desc(modelVersions.sequence))
      .limit(page.limit);
    const aliases = (await aliasesOf(db, [model])).get(model) ?? {};
    const [total] = await db.select({ n: count() }).from(modelVersions).where(eq(modelVersions.model, model));
    return { versions: rows.map((r) => toVersion(r, aliases)), total: total?.n ?? 0 };
  }

  async listAliasHistory(model: string, alias: string, limit: number): Promise<AliasChange[]> {
    const rows = await this.deps.db
      .select()
      .from(aliasHistory)
      .where(and(eq(aliasHistory.model, model), alias ? eq(aliasHistory.alias, alias) : undefined))
      .orderBy(desc(aliasHistory.id))
      .limit(limit);
    return rows.map((r) => ({
      model: r.model,
      alias: r.alias,
      fromVersion: r.fromVersion,
      toVersion: r.toVersion,
      actor: r.actor,
      reason: r.reason,
      atMs: r.at.getTime(),
    }));
  }

  async listTrustKeys(): Promise<TrustKey[]> {
    const rows = await this.deps.db
      .select()
      .from(signingKeys)
      .orderBy(asc(signingKeys.createdAt), asc(signingKeys.keyId));
    return rows.map(toTrustKey);
  }

  signingKey(keyId: string): Promise<TrustKey | undefined> {
    return readSigningKey(this.deps.db, keyId, false);
  }

  latestTrustBundle(): Promise<TrustBundleData | undefined> {
    return readLatestBundle(this.deps.db);
  }
}

export function toTrustKey(r: KeyRow): TrustKey {
  return {
    keyId: r.keyId,
    publicKey: r.publicKey,
    active: r.active,
    createdAtMs: r.createdAt.getTime(),
    ...(r.revokedAt ? { revokedAtMs: r.revokedAt.getTime(), revokedReason: r.revokedReason } : {}),
  };
}

/** The newest trust bundle (highest sequence). */
export async function readLatestBundle(db: Conn): Promise<TrustBundleData | undefined> {
  const [row] = await db.select().from(trustBundles).orderBy(desc(trustBundles.sequence)).limit(1);
  return row && { sequence: row.sequence, payload: row.payload, signatures: row.signatures };
}

async function readSigningKey(db: Conn, keyId: string, lock: boolean): Promise<TrustKey | undefined> {
  const query = db.select().from(signingKeys).where(eq(signingKeys.keyId, keyId));
  const [row] = lock ? await query.for('share') : await query;
  return row && toTrustKey(row);
}

class PostgresRegistryTx implements RegistryTx {
  constructor(private readonly tx: Tx) {}

  async createModel(m: { name: string; description: string; createdAtMs: number }): Promise<boolean> {
    const rows = await this.tx
      .insert(models)
      .values({ name: m.name, description: m.description, createdAt: new Date(m.createdAtMs) })
      .onConflictDoNothing()
      .returning({ name: models.name });
    return rows.length === 1;
  }

  lockModel(name: string): Promise<Model | undefined> {
    return readModel(this.tx, name, true);
  }

  getVersion(model: string, version: string): Promise<ModelVersion | undefined> {
    return readVersion(this.tx, model, version);
  }

  getAlias(model: string, alias: string): Promise<string | undefined> {
    return readAlias(this.tx, model, alias);
  }

  async insertVersion(v: Omit<ModelVersion, 'aliases'>): Promise<void> {
    try {
      await this.tx.insert(modelVersions).values({
        model: v.model,
        version: v.version,
        sequence: v.sequence,
        manifest: v.manifest as unknown as Record<string, unknown>,
        sha256: v.sha256,
        sizeBytes: v.sizeBytes,
        signature: { ...v.signature },
        artifactKey: v.artifactKey,
        createdBy: v.createdBy,
        createdAt: new Date(v.createdAtMs),
      });
    } catch (err) {
      if (pgCode(err) === UNIQUE_VIOLATION) throw new AlreadyExistsError('version', `${v.model}@${v.version}`);
      throw err;
    }
  }

  async setLatestSequence(model: string, sequence: number): Promise<void> {
    await this.tx.update(models).set({ latestSequence: sequence }).where(eq(models.name, model));
  }

  async setAlias(model: string, alias: string, version: string, atMs: number): Promise<void> {
    const at = new Date(atMs);
    await this.tx
      .insert(modelAliases)
      .values({ model, alias, version, updatedAt: at })
      .onConflictDoUpdate({ target: [modelAliases.model, modelAliases.alias], set: { version, updatedAt: at } });
  }

  async appendAliasChange(c: AliasChange): Promise<void> {
    await this.tx.insert(aliasHistory).values({
      model: c.model,
      alias: c.alias,
      fromVersion: c.fromVersion,
      toVersion: c.toVersion,
      actor: c.actor,
      reason: c.reason,
      at: new Date(c.atMs),
    });
  }

  async appendAudit(e: AuditEntry): Promise<void> {
    await insertAudit(this.tx, e);
  }

  lockSigningKey(keyId: string): Promise<TrustKey | undefined> {
    return readSigningKey(this.tx, keyId, true);
  }

  async lockActiveKey(): Promise<string | undefined> {
    // Every row, not `where active`: a rotation committing meanwhile flips `active` on rows this
    // statement's snapshot saw otherwise. Then a fresh statement sees the committed state, and no key
    // change can commit until this transaction ends (it locks these rows for update first, in this
    // same order, so the two cannot deadlock).
    await this.tx
      .select({ keyId: signingKeys.keyId })
      .from(signingKeys)
      .orderBy(asc(signingKeys.createdAt), asc(signingKeys.keyId))
      .for('share');
    const [row] = await this.tx
      .select({ keyId: signingKeys.keyId })
      .from(signingKeys)
      .where(eq(signingKeys.active, true))
      .limit(1);
    return row?.keyId;
  }
}

async function readModel(db: Conn, name: string, lock: boolean): Promise<Model | undefined> {
  const query = db.select().from(models).where(eq(models.name, name));
  const [row] = lock ? await query.for('update') : await query;
  if (!row) return undefined;
  return toModel(row, (await aliasesOf(db, [name])).get(name));
}

async function readVersion(db: Conn, model: string, version: string): Promise<ModelVersion | undefined> {
  const [row] = await db
    .select()
    .from(modelVersions)
    .where(and(eq(modelVersions.model, model), eq(modelVersions.version, version)));
  if (!row) return undefined;
  return toVersion(row, (await aliasesOf(db, [model])).get(model) ?? {});
}

async function readAlias(db: Conn, model: string, alias: string): Promise<string | undefined> {
  const [row] = await db
    .select({ version: modelAliases.version })
    .from(modelAliases)
    .where(and(eq(modelAliases.model, model), eq(modelAliases.alias, alias)));
  return row?.version;
}

/** model -> (alias -> version) */
async function aliasesOf(db: Conn, names: string[]): Promise<Map<string, Record<string, string>>> {
  const out = new Map<string, Record<string, string>>();
  if (names.length === 0) return out;
  const rows = await db
    .select()
    .from(modelAliases)
    .where(inArray(modelAliases.model, names))
    .orderBy(asc(modelAliases.alias));
  for (const r of rows) out.set(r.model, { ...out.get(r.model), [r.alias]: r.version });
  return out;
}

function toModel(r: ModelRow, aliases: Record<string, string> = {}): Model {
  return {
    name: r.name,
    description: r.description,
    createdAtMs: r.createdAt.getTime(),
    aliases,
    latestSequence: r.latestSequence,
  };
}

function toVersion(r: VersionRow, aliases: Record<string, string>): ModelVersion {
  return {
    model: r.model,
    version: r.version,
    sequence: r.sequence,
    manifest: r.manifest as unknown as Manifest,
    sha256: r.sha256,
    sizeBytes: r.sizeBytes,
    signature: r.signature as unknown as VersionSignature,
    artifactKey: r.artifactKey,
    createdAtMs: r.createdAt.getTime(),
    createdBy: r.createdBy,
    aliases: Object.entries(aliases)
      .filter(([, v]) => v === r.version)
      .map(([a]) => a),
  };
}

function pgCode(err: unknown): string | undefined {
  const direct = (err as { code?: unknown }).code;
  if (typeof direct === 'string') return direct;
  const cause = (err as { cause?: { code?: unknown } }).cause?.code;
  return typeof cause === 'string' ? cause : undefined;
}
