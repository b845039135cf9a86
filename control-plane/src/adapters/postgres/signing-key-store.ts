import { asc, eq, sql } from 'drizzle-orm';
import type { AuditEntry } from '../../audit/ports.js';
import type { TrustBundleData, TrustKey, VersionSignature } from '../../registry/domain.js';
import type { PublicKeyRef, SigningKeyStore, SigningKeyTx, VersionSignatureRef } from '../../registry/ports.js';
import { insertAudit } from './audit-store.js';
import type { Db } from './db.js';
import { lockDesiredStatesSql } from './desired-lock.js';
import { readLatestBundle, toTrustKey } from './registry-store.js';
import { signingKeys, trustBundles } from './schema.js';

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/** Rollouts whose versions agents may still be sent: active ones and recent reverts. */
const LIVE_ROLLOUTS = sql`(status in ('running', 'paused')
  or (status = 'rolled_back' and updated_at > now() - interval '1 day'))`;

/**
 * Versions agents may run besides the ones their desired state names (`agent_id`, `model`, `version`,
 * `signature`): the version each reported running (e.g. after a local watchdog rollback) and the
 * previous version of its newest state report that names one (its fallback). A version string is
 * matched within the models the agent's desired state names, or any model when it names none.
 */
const HELD_VERSIONS = sql`select a.id as agent_id, v.model, v.version, v.signature
  from agents a
  cross join lateral (
    select a.running_model_version as version
    union select e.previous_version from (select previous_version from agent_model_events e
      where e.agent_id = a.id and e.previous_version <> '' order by e.report_seq desc limit 1) e
  ) x
  left join desired_states d on d.agent_id = a.id
  join model_versions v on v.version = x.version
    and (v.model in (d.state->'model'->>'model', d.state->'shadow'->>'model')
      or coalesce(d.state->'model'->>'model', d.state->'shadow'->>'model') is null)
  where a.decommissioned_at is null and x.version <> ''
    and (v.model, v.version) is distinct from (d.state->'model'->>'model', d.state->'model'->>'version')
    and (v.model, v.version) is distinct from (d.state->'shadow'->>'model', d.state->'shadow'->>'version')`;

/**
 * Signing keys and trust bundles in Postgres (`signing_keys`, `trust_bundles`), and the desired states
 * (`desired_states`) a key change re-issues so that every agent receives the new bundle.
 */
export class PostgresSigningKeyStore implements SigningKeyStore {
  constructor(private readonly deps: { db: Db }) {}

  async activeKeyId(): Promise<string | undefined> {
    const [row] = await this.deps.db
      .select({ keyId: signingKeys.keyId })
      .from(signingKeys)
      .where(eq(signingKeys.active, true))
      .limit(1);
    return row?.keyId;
  }

  adoptInitialKey(key: PublicKeyRef, atMs: number): Promise<string> {
    return this.deps.db.transaction(async (tx) => {
      // Replicas starting together with different keys: one of them decides.
      await tx.execute(sql`lock table signing_keys in share row exclusive mode`);
      const rows = await tx.select().from(signingKeys);
      const active = rows.find((r) => r.active);
      if (active) return active.keyId;
      if (rows.some((r) => r.keyId === key.keyId && r.revokedAt)) return '';
      await tx
        .insert(signingKeys)
        .values({ keyId: key.keyId, publicKey: key.publicKey, active: true, createdAt: new Date(atMs) })
        .onConflictDoUpdate({ target: signingKeys.keyId, set: { active: true } });
      return key.keyId;
    });
  }

  latestBundle(): Promise<TrustBundleData | undefined> {
    return readLatestBundle(this.deps.db);
  }

  transaction<T>(fn: (tx: SigningKeyTx) => Promise<T>): Promise<T> {
    return this.deps.db.transaction((tx) => fn(new PostgresSigningKeyTx(tx)));
  }
}

class PostgresSigningKeyTx implements SigningKeyTx {
  constructor(private readonly tx: Tx) {}

  async lockKeys(): Promise<TrustKey[]> {
    const rows = await this.tx
      .select()
      .from(signingKeys)
      .orderBy(asc(signingKeys.createdAt), asc(signingKeys.keyId))
      .for('update');
    return rows.map(toTrustKey);
  }

  async activate(key: PublicKeyRef, atMs: number): Promise<void> {
    await this.tx
      .insert(signingKeys)
      .values({ keyId: key.keyId, publicKey: key.publicKey, active: false, createdAt: new Date(atMs) })
      .onConflictDoNothing();
    await this.tx.update(signingKeys).set({ active: sql`${signingKeys.keyId} = ${key.keyId}` });
  }

  async revoke(keyId: string, atMs: number, reason: string): Promise<void> {
    await this.tx
      .update(signingKeys)
      .set({ revokedAt: new Date(atMs), revokedReason: reason })
      .where(eq(signingKeys.keyId, keyId));
  }

  async staleSignatures(activeKeyId: string) {
    const versions = await this.tx.execute(sql`with deployed as (
        select model, version from model_aliases
        union select state->'model'->>'model', state->'model'->>'version' from desired_states where state ? 'model'
        union select state->'shadow'->>'model', state->'shadow'->>'version' from desired_states where state ? 'shadow'
        union select model, version from rollouts where ${LIVE_ROLLOUTS}
        union select model, previous_version from rollouts where ${LIVE_ROLLOUTS} and previous_version <> ''
        union select model, version from (${HELD_VERSIONS}) h
      )
      select v.model, v.version, v.signature from model_versions v
      join deployed d on d.model = v.model and d.version = v.version
      where v.signature->>'keyId' <> ${activeKeyId}
      order by v.model, v.sequence`);
    const desired = await this.tx.execute(sql`select distinct sig from (
        select state->'model'->'signature' as sig from desired_states
        union all select state->'shadow'->'signature' from desired_states
      ) x where jsonb_typeof(sig) = 'object' and sig->>'keyId' <> ${activeKeyId}`);
    return {
      versions: versions.map(
        (r): VersionSignatureRef => ({
          model: String(r.model),
          version: String(r.version),
          signature: r.signature as VersionSignature,
        }),
      ),
      desired: desired.map((r) => r.sig as VersionSignature),
    };
  }

  async setVersionSignature(model: string, version: string, signature: VersionSignature): Promise<void> {
    await this.tx.execute(sql`update model_versions set signature = ${JSON.stringify(signature)}::jsonb
      where model = ${model} and version = ${version}`);
  }

  async versionsSignedBy(keyIds: readonly string[], limit: number): Promise<string[]> {
    const rows = await this.tx.execute(sql`select model, version from model_versions
      where signature->>'keyId' in (select jsonb_array_elements_text(${JSON.stringify(keyIds)}::jsonb))
      order by model, sequence limit ${limit}`);
    return rows.map((r) => `${String(r.model)}@${String(r.version)}`);
  }

  async nextBundleSequence(): Promise<number> {
    const [row] = await this.tx
      .select({ n: sql<number>`coalesce(max(${trustBundles.sequence}), 0) + 1` })
      .from(trustBundles);
    return Number(row?.n ?? 1);
  }

  async insertBundle(b: TrustBundleData, by: { actor: string; reason: string; atMs: number }): Promise<void> {
    await this.tx.insert(trustBundles).values({
      sequence: b.sequence,
      payload: b.payload,
      signatures: b.signatures,
      createdBy: by.actor,
      reason: by.reason,
      createdAt: new Date(by.atMs),
    });
  }

  async lockDesiredStates(): Promise<void> {
    await this.tx.execute(lockDesiredStatesSql);
  }

  async recentChange(q: { action: string; actor: string; reason: string; sinceMs: number }) {
    const rows =
      await this.tx.execute(sql`select target, (extract(epoch from at) * 1000)::bigint as at_ms from audit_log
      where actor = ${q.actor} and at > ${new Date(q.sinceMs).toISOString()}::timestamptz
        and action = ${q.action} and reason = ${q.reason}
      order by at desc limit 1`);
    const row = rows[0];
    return row ? { target: String(row.target), atMs: Number(row.at_ms) } : undefined;
  }

  /**
   * Under the desired-states lock (desired-lock.ts), like every writer: a rollout write that commits
   * after this one is written to KV after the bundle is committed (and so carries it); one that
   * committed before is re-issued here.
   */
  async reissueDesired(
    resigned: ReadonlyMap<string, VersionSignature>,
    why: { reason: string; atMs: number; missingOnly?: boolean },
  ): Promise<number> {
    if (why.missingOnly && !(await this.anyMissing())) return 0;
    await this.lockDesiredStates();
    const updated = why.missingOnly ? 0 : await this.bumpExisting(resigned, why);
    const created = await this.tx.execute(sql`insert into desired_states
        (agent_id, site_id, generation, state, rollout_id, kv_revision, updated_at)
      select a.id, a.site_id, 1, jsonb_build_object('agentId', a.id, 'siteId', a.site_id, 'generation', 1,
          'switchPolicy', jsonb_build_object('condition', '', 'force', false, 'windows', '[]'::jsonb, 'timeZone', ''),
          'rolloutId', '', 'reason', ${why.reason}::text, 'issuedAtMs', ${why.atMs}::bigint),
        null, null, now()
      from agents a
      where a.decommissioned_at is null and not exists (select 1 from desired_states d where d.agent_id = a.id)
      on conflict (agent_id) do nothing
      returning agent_id`);
    return updated + created.length;
  }

  async appendAudit(e: AuditEntry): Promise<void> {
    await insertAudit(this.tx, e);
  }

  private async anyMissing(): Promise<boolean> {
    const rows = await this.tx.execute(sql`select 1 from agents a where a.decommissioned_at is null
      and not exists (select 1 from desired_states d where d.agent_id = a.id) limit 1`);
    return rows.length > 0;
  }

  /**
   * Generation + 1, KV write pending; signatures swapped by payload (a handful of distinct ones); the
   * re-signatures of versions each agent holds besides its desired ones replaced (HELD_VERSIONS, signed
   * by the active key by now).
   */
  private async bumpExisting(
    resigned: ReadonlyMap<string, VersionSignature>,
    why: { reason: string; atMs: number },
  ): Promise<number> {
    const map = JSON.stringify([...resigned].map(([p, sig]) => ({ p, sig })));
    const rows = await this.tx.execute(sql`with map as (
        select x.p, x.sig from jsonb_to_recordset(${map}::jsonb) as x(p text, sig jsonb)
      ), held as materialized (
        select agent_id, jsonb_agg(jsonb_build_object('model', model, 'version', version, 'signature', signature)
          order by model, version) as r
        from (${HELD_VERSIONS}) h group by agent_id
      )
      update desired_states d set
        generation = d.generation + 1,
        kv_revision = null,
        updated_at = now(),
        state = (d.state - 'resignatures')
          || jsonb_build_object('generation', d.generation + 1, 'reason', ${why.reason}::text, 'issuedAtMs', ${why.atMs}::bigint)
          || coalesce((select jsonb_build_object('model', (d.state->'model') || jsonb_build_object('signature', m.sig))
              from map m where m.p = d.state->'model'->'signature'->>'payload'), '{}'::jsonb)
          || coalesce((select jsonb_build_object('shadow', (d.state->'shadow') || jsonb_build_object('signature', m.sig))
              from map m where m.p = d.state->'shadow'->'signature'->>'payload'), '{}'::jsonb)
          || case when h.r is null then '{}'::jsonb else jsonb_build_object('resignatures', h.r) end
      from agents a left join held h on h.agent_id = a.id
      where a.id = d.agent_id and a.decommissioned_at is null
      returning d.agent_id`);
    return rows.length;
  }
}
