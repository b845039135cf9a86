import { hostname } from 'node:os';
import { z } from 'zod';
import { type ConfigSources, loadConfigWith } from './config-loader.js';

const port = z.number().int().min(0).max(65535);

export const ConfigSchema = z.object({
  /** Identifies this replica in logs, leader election and consumer names. */
  replicaId: z.string().min(1).default(`${hostname()}-${process.pid}`),
  log: z
    .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
    .prefault({}),
  database: z
    .object({
      url: z.string().url().default('postgres://postgres@127.0.0.1:5432/millwright'),
      poolSize: z.number().int().min(1).max(200).default(10),
      /** Apply drizzle migrations on start (also `mwctl migrate`). */
      migrate: z.boolean().default(true),
    })
    .prefault({}),
  nats: z
    .object({
      url: z.string().min(1).default('nats://127.0.0.1:4222'),
      /** NATS .creds file of the control plane's own user (decentralised auth). */
      credsFile: z.string().optional(),
      /** JetStream replicas for the streams and buckets the control plane creates (3 in a cluster). */
      replicas: z.number().int().min(1).max(5).default(1),
      /** TLS to NATS (security): CA of the server certificate; client certificate and key for mutual TLS. */
      tls: z
        .object({ caFile: z.string().optional(), certFile: z.string().optional(), keyFile: z.string().optional() })
        .prefault({}),
      /**
       * Decentralised auth (security): with `accountSeedFile` set, enrollment issues each agent a user JWT
       * signed by the MILLWRIGHT account key, confined to its own subjects (files from `mwctl nats init`).
       */
      auth: z
        .object({
          /** nkey seed of the MILLWRIGHT account (signs agent user JWTs). */
          accountSeedFile: z.string().optional(),
          /** nkey seed of the operator: re-signs the account JWT with revocations at decommission. */
          operatorSeedFile: z.string().optional(),
          /** .creds of a system-account user: pushes the updated account JWT to the servers. */
          systemCredsFile: z.string().optional(),
          /** The servers' resolver_preload include; rewritten with each revocation so a restart keeps it. */
          preloadFile: z.string().optional(),
          /** Account limits written into the re-signed account JWT (as `mwctl nats init` set them). */
          maxConsumers: z.number().int().min(1).default(10_000),
        })
        .prefault({}),
    })
    .prefault({}),
  grpc: z
    .object({
      host: z.string().default('127.0.0.1'),
      port: port.default(7443),
      /** TLS (security): PEM certificate chain and key; with clientCaFile, client certificates are required. */
      tls: z
        .object({
          certFile: z.string().optional(),
          keyFile: z.string().optional(),
          clientCaFile: z.string().optional(),
        })
        .prefault({})
        .refine((t) => Boolean(t.certFile) === Boolean(t.keyFile), { message: 'certFile and keyFile go together' })
        // Client certificates without a server certificate would silently serve plaintext.
        .refine((t) => !t.clientCaFile || Boolean(t.certFile), {
          message: 'clientCaFile needs certFile and keyFile (mutual TLS is TLS)',
        }),
    })
    .prefault({}),
  /** API authentication (security). On by default. */
  auth: z
    .object({
      /** DEVELOPMENT ONLY: no token checks; every caller is an admin named by x-mw-actor. */
      disabled: z.boolean().default(false),
      /** A file holding an admin API token (`mwt_…`) created on start if absent: the first admin. */
      bootstrapAdminTokenFile: z.string().optional(),
    })
    .prefault({}),
  http: z
    .object({
      host: z.string().default('127.0.0.1'),
      port: port.default(8080),
      /** HTTPS for the dashboard, its JSON API and /metrics (security): PEM certificate chain and key. */
      tls: z
        .object({ certFile: z.string().optional(), keyFile: z.string().optional() })
        .prefault({})
        .refine((t) => Boolean(t.certFile) === Boolean(t.keyFile), { message: 'certFile and keyFile go together' }),
    })
    .prefault({}),
  s3: z
    .object({
      endpoint: z.string().url().optional(),
      region: z.string().default('us-east-1'),
      bucket: z.string().min(3).default('millwright'),
      accessKeyId: z.string().optional(),
      secretAccessKey: z.string().optional(),
      forcePathStyle: z.boolean().default(false),
      presignTtlS: z
        .number()
        .int()
        .min(30)
        .max(7 * 24 * 3600)
        .default(900),
    })
    .prefault({}),
  health: z
    .object({
      staleAfterS: z.number().positive().default(15),
      offlineAfterS: z.number().positive().default(60),
      /** Health timeline entries older than this are deleted. */
      historyRetentionDays: z.number().positive().default(30),
      /** How often the leader's sweeper records health transitions into the timeline. */
      sweepIntervalS: z.number().positive().max(3600).default(5),
    })
    .prefault({})
    .refine((h) => h.offlineAfterS > h.staleAfterS, { message: 'offlineAfterS must be greater than staleAfterS' }),
  fleet: z
    .object({
      /** Accept heartbeats from agents that never enrolled (development only; NATS auth makes it moot). */
      autoRegister: z.boolean().default(true),
    })
    .prefault({}),
  leader: z
    .object({
      /** How often a replica tries to become leader of a singleton (health sweeper, rollout controller). */
      retryS: z.number().positive().max(300).default(5),
    })
    .prefault({}),
  rollouts: z
    .object({
      /** Reconcile period of the rollout controller (leader only). */
      tickMs: z.number().int().min(50).max(60_000).default(1000),
      /** An agent updating longer than this no longer holds its site's parallel-update slot. */
      stuckAfterS: z.number().positive().default(600),
    })
    .prefault({}),
  /** Retraining handoff (docs/RETRAINING.md): the leader's dataset projection and trigger loop. */
  retraining: z
    .object({
      /** How often the leader projects new records into datasets and evaluates retraining triggers. */
      intervalS: z.number().positive().max(3600).default(60),
      /** Lease of a claimed request when the trainer asks for none (renewed by progress reports). */
      defaultLeaseS: z.number().int().positive().max(86_400).default(600),
    })
    .prefault({}),
  ingest: z
    .object({
      /** Heartbeats are coalesced per agent and flushed at this interval. */
      heartbeatFlushMs: z.number().int().min(10).max(10_000).default(250),
      maxMessageBytes: z
        .number()
        .int()
        .min(1024)
        .default(1024 * 1024),
      /** Record batches are stored in groups: one transaction at least this often… */
      recordsFlushMs: z.number().int().min(1).max(10_000).default(50),
      /** …or as soon as this many records wait. */
      recordsFlushRecords: z.number().int().min(1).max(100_000).default(5000),
      /** Record batch messages pulled per request. */
      recordsPullBatch: z.number().int().min(1).max(10_000).default(64),
      /** Larger record batches are dead-lettered as `oversize` (MW_RECORDS itself takes 4 MiB). */
      recordBatchMaxBytes: z
        .number()
        .int()
        .min(1024)
        .default(4 * 1024 * 1024),
      /** How rows reach Postgres (see adapters/postgres/records-store.ts). */
      recordsInsertMode: z.enum(['recordset', 'copy']).default('recordset'),
    })
    .prefault({}),
  signing: z
    .object({
      /** ed25519 private key (PKCS#8 PEM or the raw 32-byte seed in base64) that becomes the active signing key of a fresh database. Rotate with `mwctl models keys rotate`. */
      keyFile: z.string().optional(),
      /** Directory of further private keys (`*.pem`, `*.key`), the same on every replica; `mwctl models keys rotate` generates new keys into it. */
      keyDir: z.string().optional(),
      /** Development only: without keyFile, a key is generated into this directory on first start and reused; also a key directory. */
      devKeyDir: z.string().optional(),
      /** How often agents enrolled since the last key change are given a desired state with the newest trust bundle. @default 60 */
      trustSweepS: z.number().positive().max(86_400).default(60),
    })
    .prefault({}),
  registry: z
    .object({
      /** Largest artifact UploadVersion accepts. @default 256 MiB */
      maxArtifactBytes: z
        .number()
        .int()
        .min(1)
        .default(256 * 1024 * 1024),
    })
    .prefault({}),
  /** The web dashboard on the HTTP port (`/`, `/api/...`, live updates on `/api/events`). */
  dashboard: z
    .object({
      enabled: z.boolean().default(true),
      /** How often live viewers' fleet overview is recomputed (only while someone watches). */
      pollMs: z.number().int().min(200).max(60_000).default(2000),
      /** Window of recent drift and drop reports shown as needing attention. */
      signalsWindowS: z.number().int().min(10).default(900),
    })
    .prefault({}),
  /** Alert rules evaluated by the leader and delivered to webhooks (also `mwctl alerts rules`). */
  notifications: z
    .object({
      enabled: z.boolean().default(true),
      intervalS: z.number().positive().max(3600).default(30),
      /** Window of drift and drop reports the rules look at. */
      windowS: z.number().int().min(10).default(900),
      webhookTimeoutS: z.number().positive().max(60).default(5),
      /** Rules from config, created or replaced on start: `{id, kind, params, webhookUrl, enabled}`. */
      rules: z
        .array(
          z.object({
            id: z.string().min(1),
            kind: z.string().min(1),
            params: z.record(z.string(), z.number()).default({}),
            webhookUrl: z.string().url(),
            enabled: z.boolean().default(true),
          }),
        )
        .default([]),
    })
    .prefault({}),
});

export type Config = z.output<typeof ConfigSchema>;

/** Pure: builds the frozen config from a YAML file text and `MW_` environment variables. */
export function loadConfig(src: ConfigSources): Readonly<Config> {
  return loadConfigWith(ConfigSchema, src);
}
