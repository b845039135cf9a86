/**
 * The Postgres schema (drizzle). Row types never leave this adapter. Migrations are generated with
 * `pnpm --filter @millwright/control-plane db:generate` and never edited once merged.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import type { BufferStatus, ModelState, ResourceUsage } from '../../domain/fleet.js';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const sites = pgTable('sites', {
  id: text('id').primaryKey(),
  displayName: text('display_name').notNull().default(''),
  timeZone: text('time_zone').notNull().default('UTC'),
  lines: jsonb('lines').$type<{ id: string; displayName: string }[]>().notNull().default([]),
  maintenanceWindows: jsonb('maintenance_windows').$type<{ cron: string; durationS: number }[]>().notNull().default([]),
  createdAt: ts('created_at').notNull().defaultNow(),
});

export const agents = pgTable(
  'agents',
  {
    id: text('id').primaryKey(),
    siteId: text('site_id')
      .notNull()
      .references(() => sites.id),
    lineId: text('line_id').notNull().default(''),
    labels: jsonb('labels').$type<Record<string, string>>().notNull().default({}),
    agentVersion: text('agent_version').notNull().default(''),
    runningModelVersion: text('running_model_version').notNull().default(''),
    desiredModelVersion: text('desired_model_version').notNull().default(''),
    lastHeartbeatAt: ts('last_heartbeat_at'),
    heartbeatSeq: bigint('heartbeat_seq', { mode: 'number' }).notNull().default(0),
    bootId: text('boot_id').notNull().default(''),
    startedAt: ts('started_at'),
    buffer: jsonb('buffer').$type<BufferStatus>(),
    resources: jsonb('resources').$type<ResourceUsage>(),
    modelState: jsonb('model_state').$type<ModelState>(),
    enrolledAt: ts('enrolled_at').notNull().defaultNow(),
    decommissionedAt: ts('decommissioned_at'),
    pinned: boolean('pinned').notNull().default(false),
    /** The agent's nkey public key, bound at enrollment (NATS user credentials). */
    nkeyPublic: text('nkey_public'),
    /** Last health written to the timeline, so transitions are recorded once. */
    lastHealth: text('last_health').notNull().default('online'),
  },
  (t) => [
    index('agents_site_idx').on(t.siteId, t.id),
    index('agents_labels_gin').using('gin', t.labels),
    index('agents_heartbeat_idx').on(t.lastHeartbeatAt),
  ],
);

/** Health timeline; bounded by health.historyRetentionDays. */
export const agentHistory = pgTable(
  'agent_history',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    agentId: text('agent_id').notNull(),
    at: ts('at').notNull().defaultNow(),
    health: text('health').notNull(),
    runningModelVersion: text('running_model_version').notNull().default(''),
    unsentRecords: bigint('unsent_records', { mode: 'number' }).notNull().default(0),
    event: text('event').notNull().default(''),
  },
  (t) => [index('agent_history_agent_at_idx').on(t.agentId, t.at)],
);

export const bootstrapTokens = pgTable('bootstrap_tokens', {
  id: text('id').primaryKey(),
  siteId: text('site_id')
    .notNull()
    .references(() => sites.id),
  tokenHash: text('token_hash').notNull().unique(),
  expiresAt: ts('expires_at').notNull(),
  maxUses: integer('max_uses').notNull().default(1),
  uses: integer('uses').notNull().default(0),
  revokedAt: ts('revoked_at'),
  createdBy: text('created_by').notNull().default(''),
  createdAt: ts('created_at').notNull().defaultNow(),
});

export const models = pgTable('models', {
  name: text('name').primaryKey(),
  description: text('description').notNull().default(''),
  latestSequence: bigint('latest_sequence', { mode: 'number' }).notNull().default(0),
  createdAt: ts('created_at').notNull().defaultNow(),
});

export const modelVersions = pgTable(
  'model_versions',
  {
    model: text('model')
      .notNull()
      .references(() => models.name),
    version: text('version').notNull(),
    sequence: bigint('sequence', { mode: 'number' }).notNull(),
    manifest: jsonb('manifest').$type<Record<string, unknown>>().notNull(),
    sha256: text('sha256').notNull(),
    sizeBytes: bigint('size_bytes', { mode: 'number' }).notNull(),
    /** Signature message (key id, signature, signed payload), JSON. */
    signature: jsonb('signature').$type<Record<string, string>>().notNull(),
    artifactKey: text('artifact_key').notNull(),
    createdBy: text('created_by').notNull().default(''),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.model, t.version] }), uniqueIndex('model_versions_seq_idx').on(t.model, t.sequence)],
);

export const modelAliases = pgTable(
  'model_aliases',
  {
    model: text('model')
      .notNull()
      .references(() => models.name),
    alias: text('alias').notNull(),
    version: text('version').notNull(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.model, t.alias] })],
);

export const aliasHistory = pgTable(
  'alias_history',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    model: text('model').notNull(),
    alias: text('alias').notNull(),
    fromVersion: text('from_version').notNull().default(''),
    toVersion: text('to_version').notNull(),
    actor: text('actor').notNull(),
    reason: text('reason').notNull().default(''),
    at: ts('at').notNull().defaultNow(),
  },
  (t) => [index('alias_history_model_idx').on(t.model, t.alias, t.at)],
);

/** Artifact signing keys: only public keys are stored; private keys come from config files. */
export const signingKeys = pgTable('signing_keys', {
  keyId: text('key_id').primaryKey(),
  publicKey: text('public_key').notNull(),
  active: boolean('active').notNull().default(true),
  createdAt: ts('created_at').notNull().defaultNow(),
});

export const apiTokens = pgTable('api_tokens', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  role: text('role').notNull(),
  tokenHash: text('token_hash').notNull().unique(),
  createdBy: text('created_by').notNull().default(''),
  createdAt: ts('created_at').notNull().defaultNow(),
  expiresAt: ts('expires_at'),
  revokedAt: ts('revoked_at'),
});

export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: ts('at').notNull().defaultNow(),
    actor: text('actor').notNull(),
    actorRole: text('actor_role').notNull().default(''),
    action: text('action').notNull(),
    target: text('target').notNull().default(''),
    detail: jsonb('detail').$type<Record<string, unknown>>().notNull().default({}),
    source: text('source').notNull().default(''),
    reason: text('reason').notNull().default(''),
  },
  (t) => [index('audit_log_at_idx').on(t.at), index('audit_log_actor_idx').on(t.actor, t.at)],
);

/**
 * One row per (agent, buffer): the sequence space of an agent's buffer. committed_seq is the
 * end-to-end watermark: every record with seq <= it is stored.
 */
export const recordStreams = pgTable(
  'record_streams',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    agentId: text('agent_id').notNull(),
    bufferId: text('buffer_id').notNull(),
    committedSeq: bigint('committed_seq', { mode: 'number' }).notNull().default(0),
    /** Committed ranges above the watermark (batches that arrived out of order): [[first, last], ...]. */
    pendingRanges: jsonb('pending_ranges').$type<[number, number][]>().notNull().default([]),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('record_streams_agent_buffer_idx').on(t.agentId, t.bufferId)],
);

/** Edge records, idempotent on (stream, seq). Typed columns for what queries need; the rest in body. */
export const records = pgTable(
  'records',
  {
    streamId: bigint('stream_id', { mode: 'number' }).notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    agentId: text('agent_id').notNull(),
    siteId: text('site_id').notNull(),
    ts: ts('ts').notNull(),
    class: smallint('class').notNull(),
    kind: text('kind').notNull(),
    modelVersion: text('model_version'),
    score: doublePrecision('score'),
    decision: smallint('decision'),
    body: jsonb('body').$type<Record<string, unknown>>().notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.streamId, t.seq] }),
    index('records_agent_ts_idx').on(t.agentId, t.ts),
    index('records_kind_ts_idx').on(t.kind, t.ts),
  ],
);

export const deadLetters = pgTable(
  'dead_letters',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: ts('at').notNull().defaultNow(),
    subject: text('subject').notNull(),
    code: text('code').notNull(),
    reason: text('reason').notNull(),
    agentId: text('agent_id'),
    payloadSize: integer('payload_size').notNull(),
  },
  (t) => [index('dead_letters_at_idx').on(t.at)],
);

export const leaderLocks = { fleetSweeper: 0x4d570001, rolloutController: 0x4d570002, migrations: 0x4d570000 } as const;

export const nowSql = sql`now()`;
