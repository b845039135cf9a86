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
    })
    .prefault({}),
  grpc: z.object({ host: z.string().default('127.0.0.1'), port: port.default(7443) }).prefault({}),
  http: z.object({ host: z.string().default('127.0.0.1'), port: port.default(8080) }).prefault({}),
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
    })
    .prefault({})
    .refine((h) => h.offlineAfterS > h.staleAfterS, { message: 'offlineAfterS must be greater than staleAfterS' }),
  fleet: z
    .object({
      /** Accept heartbeats from agents that never enrolled (development only; NATS auth makes it moot). */
      autoRegister: z.boolean().default(true),
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
    })
    .prefault({}),
});

export type Config = z.output<typeof ConfigSchema>;

/** Pure: builds the frozen config from a YAML file text and `MW_` environment variables. */
export function loadConfig(src: ConfigSources): Readonly<Config> {
  return loadConfigWith(ConfigSchema, src);
}
