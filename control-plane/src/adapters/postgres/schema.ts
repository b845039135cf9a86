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
    // No index on last_heartbeat_at: every heartbeat changes it, and an index on it would make every
    // heartbeat update non-HOT, rewriting all three indexes (GIN included). Health filters scan instead.
  ],
);

/**
 * Liveness of each agent: what every heartbeat changes, apart from the wide `agents` row, which a
 * heartbeat writes only when line, labels, agent version or running model version changed (ADR 0007).
 * Narrow, no secondary index, fillfactor 50 (migration 0007): its updates stay HOT.
 * Supersedes `agents.last_heartbeat_at`, `heartbeat_seq`, `boot_id`, `started_at`, `buffer` and
 * `resources`, which heartbeats no longer write (readers fall back to `agents.last_heartbeat_at` only
 * for agents without a row here, i.e. rows written directly by seeds).
 * The buffer columns are all null when the heartbeat had no buffer status, likewise the resources.
 */
export const agentLiveness = pgTable('agent_liveness', {
  agentId: text('agent_id')
    .primaryKey()
    .references(() => agents.id),
  /** When the control plane received the newest heartbeat (health uses receipt time). */
  lastSeen: ts('last_seen').notNull(),
  heartbeatSeq: bigint('heartbeat_seq', { mode: 'number' }).notNull(),
  bootId: text('boot_id').notNull(),
  startedAt: ts('started_at'),
  unsentRecords: bigint('unsent_records', { mode: 'number' }),
  uncommittedRecords: bigint('uncommitted_records', { mode: 'number' }),
  bytesOnDisk: bigint('bytes_on_disk', { mode: 'number' }),
  capacityBytes: bigint('capacity_bytes', { mode: 'number' }),
  headSeq: bigint('head_seq', { mode: 'number' }),
  committedSeq: bigint('committed_seq', { mode: 'number' }),
  lastSyncMs: bigint('last_sync_ms', { mode: 'number' }),
  droppedByClass: jsonb('dropped_by_class').$type<Record<string, number>>(),
  cpuPercent: doublePrecision('cpu_percent'),
  rssBytes: bigint('rss_bytes', { mode: 'number' }),
  diskFreeBytes: bigint('disk_free_bytes', { mode: 'number' }),
});

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
  (t) => [index('agent_history_agent_at_idx').on(t.agentId, t.at), index('agent_history_at_idx').on(t.at)],
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
  /** A revoked key is removed from agents' trust sets; versions signed only by it must be re-signed. */
  revokedAt: ts('revoked_at'),
  revokedReason: text('revoked_reason').notNull().default(''),
});

/**
 * Signed trust bundles (`mwctl models keys rotate|revoke`); the newest is attached to every desired
 * state written to KV. Kept as history: one row per rotation or revocation.
 */
export const trustBundles = pgTable('trust_bundles', {
  sequence: bigint('sequence', { mode: 'number' }).primaryKey(),
  /** Base64 of the signed TrustBundlePayload bytes. */
  payload: text('payload').notNull(),
  /** [{ keyId, signature (base64) }] */
  signatures: jsonb('signatures').$type<{ keyId: string; signature: string }[]>().notNull(),
  createdBy: text('created_by').notNull().default(''),
  reason: text('reason').notNull().default(''),
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
    // Fleet-wide queries by kind ask for the rare kinds (cleaning, drops, model_stats), never for
    // predictions, which are nearly all rows: leaving them out takes one index insert off ingest.
    index('records_rare_kind_ts_idx').on(t.kind, t.ts).where(sql`${t.kind} <> 'prediction'`),
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

// ---- Rollouts (issue: versioned model rollouts) ----

/** A rollout of one model version (and/or a config layer) to a target; its spec is the RolloutSpec. */
export const rollouts = pgTable(
  'rollouts',
  {
    id: text('id').primaryKey(),
    model: text('model').notNull(),
    version: text('version').notNull(),
    spec: jsonb('spec').$type<Record<string, unknown>>().notNull(),
    status: text('status').notNull(),
    statusReason: text('status_reason').notNull().default(''),
    currentStage: integer('current_stage').notNull().default(0),
    stageStartedAt: ts('stage_started_at'),
    previousVersion: text('previous_version').notNull().default(''),
    targetSize: integer('target_size').notNull().default(0),
    createdBy: text('created_by').notNull().default(''),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [index('rollouts_model_status_idx').on(t.model, t.status)],
);

/** Agents of a rollout: the stage that took them in and where they are. */
export const rolloutMembers = pgTable(
  'rollout_members',
  {
    rolloutId: text('rollout_id').notNull(),
    agentId: text('agent_id').notNull(),
    stage: integer('stage').notNull(),
    /** 'target' (updated by the rollout) or 'baseline' (compared against, not updated yet). */
    role: text('role').notNull().default('target'),
    state: text('state').notNull().default('pending'),
    reason: text('reason').notNull().default(''),
    joinedAt: ts('joined_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.rolloutId, t.agentId] }), index('rollout_members_agent_idx').on(t.agentId)],
);

/** Every controller or operator decision with the gate values behind it. */
export const rolloutDecisions = pgTable(
  'rollout_decisions',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    rolloutId: text('rollout_id').notNull(),
    at: ts('at').notNull().defaultNow(),
    kind: text('kind').notNull(),
    stage: integer('stage').notNull().default(0),
    gates: jsonb('gates').$type<Record<string, unknown>[]>().notNull().default([]),
    actor: text('actor').notNull().default(''),
    reason: text('reason').notNull().default(''),
  },
  (t) => [index('rollout_decisions_rollout_idx').on(t.rolloutId, t.at)],
);

/** Desired state per agent, the source of truth mirrored into KV mw_desired. */
export const desiredStates = pgTable('desired_states', {
  agentId: text('agent_id').primaryKey(),
  siteId: text('site_id').notNull(),
  generation: bigint('generation', { mode: 'number' }).notNull(),
  /** DesiredState as proto3 JSON (without the short-lived URL, added when written to KV). */
  state: jsonb('state').$type<Record<string, unknown>>().notNull(),
  rolloutId: text('rollout_id'),
  /** KV revision last written; null while the KV write is pending. */
  kvRevision: bigint('kv_revision', { mode: 'number' }),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

/** Agents' reported model state transitions: answers "which version ran on which agent when". */
export const agentModelEvents = pgTable(
  'agent_model_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    agentId: text('agent_id').notNull(),
    reportSeq: bigint('report_seq', { mode: 'number' }).notNull(),
    at: ts('at').notNull(),
    phase: text('phase').notNull(),
    version: text('version').notNull().default(''),
    previousVersion: text('previous_version').notNull().default(''),
    reason: text('reason').notNull().default(''),
    rolloutId: text('rollout_id'),
    desiredGeneration: bigint('desired_generation', { mode: 'number' }).notNull().default(0),
    /** Desired-state generation whose config the agent had in effect (0: none, or an agent without overlays). */
    configGeneration: bigint('config_generation', { mode: 'number' }).notNull().default(0),
  },
  (t) => [
    uniqueIndex('agent_model_events_seq_idx').on(t.agentId, t.reportSeq),
    index('agent_model_events_at_idx').on(t.agentId, t.at),
  ],
);

/** Layered agent configuration: fleet -> site -> label group -> agent, later wins. */
export const configLayers = pgTable(
  'config_layers',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    scope: text('scope').notNull(),
    /** site id, label selector JSON, or agent id, by scope; empty for the fleet layer. */
    selector: jsonb('selector').$type<Record<string, string>>().notNull().default({}),
    config: jsonb('config').$type<Record<string, unknown>>().notNull(),
    createdBy: text('created_by').notNull().default(''),
    createdAt: ts('created_at').notNull().defaultNow(),
    /** The config rollout that stored this layer when it succeeded (dropped if it is rolled back). */
    rolloutId: text('rollout_id'),
  },
  (t) => [index('config_layers_scope_idx').on(t.scope)],
);

/** Fleet-wide switches (e.g. the emergency stop of every rollout). */
export const fleetSettings = pgTable('fleet_settings', {
  key: text('key').primaryKey(),
  value: jsonb('value').$type<Record<string, unknown>>().notNull(),
  updatedBy: text('updated_by').notNull().default(''),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

// ---- Retraining (issue: retraining handoff) ----

/** Operator labels from the dashboard (agent labels arrive as records). */
export const operatorLabels = pgTable(
  'operator_labels',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    predictionId: text('prediction_id').notNull(),
    agentId: text('agent_id').notNull(),
    kind: text('kind').notNull(),
    note: text('note').notNull().default(''),
    operator: text('operator').notNull().default(''),
    source: text('source').notNull(),
    at: ts('at').notNull().defaultNow(),
  },
  (t) => [index('operator_labels_prediction_idx').on(t.predictionId)],
);

/** Sealed dataset partition objects in S3 (datasets/<model>/<version>/<site>/<day>/<part>). */
export const datasetObjects = pgTable(
  'dataset_objects',
  {
    key: text('key').primaryKey(),
    model: text('model').notNull(),
    version: text('version').notNull(),
    siteId: text('site_id').notNull(),
    day: text('day').notNull(),
    rows: integer('rows').notNull(),
    sha256: text('sha256').notNull(),
    sizeBytes: bigint('size_bytes', { mode: 'number' }).notNull(),
    labelled: integer('labelled').notNull().default(0),
    /** Rows per label kind ("confirmed_failure", "false_alarm", "normal"), for snapshot label summaries. */
    labelCounts: jsonb('label_counts').$type<Record<string, number>>().notNull().default({}),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [index('dataset_objects_partition_idx').on(t.model, t.version, t.siteId, t.day)],
);

/**
 * How far the dataset projector has read each record stream (records ≤ sealed_seq are in dataset
 * parts, operator_labels and feature_histograms). It only reads up to the stream's committed_seq,
 * below which no record can still arrive, so every record is projected exactly once.
 */
export const datasetCursors = pgTable('dataset_cursors', {
  streamId: bigint('stream_id', { mode: 'number' }).primaryKey(),
  sealedSeq: bigint('sealed_seq', { mode: 'number' }).notNull().default(0),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

/** Immutable dataset snapshot manifests; id = sha256 of the canonical manifest. */
export const datasetSnapshots = pgTable('dataset_snapshots', {
  id: text('id').primaryKey(),
  filter: jsonb('filter').$type<Record<string, unknown>>().notNull(),
  manifestKey: text('manifest_key').notNull(),
  totalRows: bigint('total_rows', { mode: 'number' }).notNull(),
  labelSummary: jsonb('label_summary').$type<Record<string, number>>().notNull().default({}),
  createdAt: ts('created_at').notNull().defaultNow(),
});

export const retrainingRequests = pgTable(
  'retraining_requests',
  {
    id: text('id').primaryKey(),
    model: text('model').notNull(),
    baseVersion: text('base_version').notNull(),
    snapshotId: text('snapshot_id').notNull(),
    trigger: text('trigger').notNull(),
    reason: text('reason').notNull().default(''),
    status: text('status').notNull(),
    claimedBy: text('claimed_by').notNull().default(''),
    claimExpiresAt: ts('claim_expires_at'),
    progress: doublePrecision('progress').notNull().default(0),
    progressNote: text('progress_note').notNull().default(''),
    resultVersion: text('result_version').notNull().default(''),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [index('retraining_requests_status_idx').on(t.status, t.createdAt)],
);

/** Per model: what triggers retraining and whether a canary starts by itself. */
export const retrainingPolicies = pgTable('retraining_policies', {
  model: text('model').primaryKey(),
  policy: jsonb('policy').$type<Record<string, unknown>>().notNull(),
  updatedBy: text('updated_by').notNull().default(''),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

/** Feature histograms reported by agents, per model version, site and hour, for drift (PSI, KS). */
export const featureHistograms = pgTable(
  'feature_histograms',
  {
    model: text('model').notNull(),
    version: text('version').notNull(),
    siteId: text('site_id').notNull(),
    feature: text('feature').notNull(),
    hour: ts('hour').notNull(),
    /** Counts per reference bin (the manifest's bin edges), plus underflow and overflow at the ends. */
    counts: jsonb('counts').$type<number[]>().notNull(),
  },
  (t) => [primaryKey({ columns: [t.model, t.version, t.siteId, t.feature, t.hour] })],
);

// ---- Security (issue: security) ----

/** NATS user credentials issued to agents, for revocation and audit (JWTs themselves are not stored). */
export const agentCredentials = pgTable('agent_credentials', {
  agentId: text('agent_id').primaryKey(),
  userPublicKey: text('user_public_key').notNull(),
  issuedAt: ts('issued_at').notNull().defaultNow(),
  revokedAt: ts('revoked_at'),
});

// ---- Notifications (issue: dashboard and observability) ----

export const alertRules = pgTable('alert_rules', {
  id: text('id').primaryKey(),
  kind: text('kind').notNull(),
  params: jsonb('params').$type<Record<string, unknown>>().notNull().default({}),
  webhookUrl: text('webhook_url').notNull(),
  enabled: boolean('enabled').notNull().default(true),
  createdAt: ts('created_at').notNull().defaultNow(),
});

/** One row per firing alert (rule + subject), de-duplicated; resolved_at set on resolve. */
export const notificationEvents = pgTable(
  'notification_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    ruleId: text('rule_id').notNull(),
    subject: text('subject').notNull(),
    firstAt: ts('first_at').notNull().defaultNow(),
    lastAt: ts('last_at').notNull().defaultNow(),
    resolvedAt: ts('resolved_at'),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull().default({}),
    deliveredAt: ts('delivered_at'),
  },
  (t) => [index('notification_events_open_idx').on(t.ruleId, t.subject, t.resolvedAt)],
);
