import { z } from 'zod';
import { CaptureConfigSchema } from './capture/policy.js';
import { AssetDriftConfigSchema, ChannelCleaningConfigSchema } from './cleaning/config.js';
import { type ConfigSources, loadConfigWith } from './config-loader.js';
import { ChannelFeatureConfigSchema } from './features/config.js';
import { SourcesConfigSchema } from './ingest/index.js';

const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/, 'letters, digits, _ and - only (max 63)');

export const AgentConfigSchema = z.object({
  agentId: id,
  siteId: id,
  lineId: z.string().default(''),
  labels: z.record(z.string(), z.string()).default({}),
  /** Everything the agent needs to restart offline lives here (buffer, last good model, cursors). */
  dataDir: z.string().min(1).default('/var/lib/millwright'),
  log: z
    .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
    .prefault({}),
  nats: z
    .object({
      url: z.string().min(1).default('nats://127.0.0.1:4222'),
      /** The agent's own NATS user credentials, issued at enrollment. */
      credsFile: z.string().optional(),
      /** TLS (security): CA to trust; client certificate and key for mutual TLS. */
      tls: z
        .object({ caFile: z.string().optional(), certFile: z.string().optional(), keyFile: z.string().optional() })
        .prefault({}),
    })
    .prefault({}),
  heartbeat: z.object({ intervalS: z.number().positive().max(3600).default(5) }).prefault({}),
  enroll: z
    .object({
      /** Enrol on first start when no identity is stored under dataDir/identity and a token is given. */
      enabled: z.boolean().default(true),
      /** Site bootstrap token from `mwctl tokens create`; a secret, so prefer MW_ENROLL_BOOTSTRAP_TOKEN_FILE. */
      bootstrapToken: z.string().min(1).optional(),
      /** NATS .creds of the shared bootstrap user (may only send enrollment requests), from `mwctl nats init`. */
      bootstrapCredsFile: z.string().optional(),
      /** How long to wait for the control plane's answer to one enrollment request. */
      timeoutS: z.number().positive().max(300).default(10),
    })
    .prefault({}),
  http: z
    .object({ host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65535).default(9100) })
    .prefault({}),
  /** Sensor sources; several run at once (see ingest/index.ts). */
  sources: SourcesConfigSchema.default([]),
  cleaning: z
    .object({
      defaults: ChannelCleaningConfigSchema.prefault({}),
      /** Per channel name; replaces the defaults for that channel. */
      channels: z.record(z.string(), ChannelCleaningConfigSchema).default({}),
      drift: AssetDriftConfigSchema.prefault({}),
    })
    .prefault({}),
  features: z
    .object({
      vibration: ChannelFeatureConfigSchema.prefault({ windowSize: 2048 }),
      process: ChannelFeatureConfigSchema.prefault({ windowSize: 10 }),
      channels: z.record(z.string(), ChannelFeatureConfigSchema).default({}),
    })
    .prefault({}),
  buffer: z
    .object({
      capacityBytes: z
        .number()
        .int()
        .min(4 * 1024 * 1024)
        .default(1024 ** 3),
      segmentBytes: z
        .number()
        .int()
        .min(64 * 1024)
        .default(64 * 1024 * 1024),
      /** Time to live per record class (TELEMETRY, PREDICTION, ANOMALOUS, CAPTURE, ALERT, LABEL, REPORT), seconds. */
      ttlS: z.record(z.string(), z.number().positive()).default({ TELEMETRY: 7 * 86400, PREDICTION: 30 * 86400 }),
    })
    .prefault({})
    .refine((b) => b.capacityBytes >= 4 * b.segmentBytes, {
      message: 'capacityBytes must be at least 4 x segmentBytes',
    }),
  sync: z
    .object({
      batchRecords: z.number().int().min(1).max(10_000).default(500),
      batchBytes: z
        .number()
        .int()
        .min(1024)
        .max(3 * 1024 * 1024)
        .default(512 * 1024),
      maxInFlight: z.number().int().min(1).max(256).default(8),
      /** Upload cap in bytes/s (plants share thin links); 0 = none. */
      bandwidthBytesPerS: z.number().min(0).default(0),
      /** Resend acknowledged-but-uncommitted records after this long without commit progress. */
      resendAfterS: z.number().positive().default(60),
      publishTimeoutMs: z.number().int().min(100).default(10_000),
    })
    .prefault({}),
  alerts: z
    .object({
      holdOffS: z.number().min(0).default(600),
      resolveAfterNormal: z.number().int().min(1).default(5),
      /** Local HTTP endpoint for alert transitions (PLC gateway, chat webhook). */
      webhookUrl: z.string().url().optional(),
      /** Local MQTT broker for alert transitions. */
      mqttUrl: z.string().optional(),
      mqttTopicPrefix: z.string().default('millwright'),
    })
    .prefault({}),
  upload: z
    .object({
      /** Send every feature vector upstream (anomalous windows' features are always sent). */
      features: z.boolean().default(false),
    })
    .prefault({}),
  reports: z.object({ intervalS: z.number().positive().default(10) }).prefault({}),
  /** Training-data capture and drift histograms (docs/RETRAINING.md); a desired-state CapturePolicy overrides it. */
  capture: CaptureConfigSchema.prefault({}),
  /**
   * Pinned artifact signing keys (base64 raw ed25519). Enrollment and signed trust bundles in the desired
   * state add keys; a key a bundle revokes is refused even when pinned here.
   */
  trust: z.object({ keys: z.array(z.string().min(1)).default([]) }).prefault({}),
  update: z
    .object({
      /** An artifact connection idle this long is dropped; the partial file is resumed. */
      downloadTimeoutS: z.number().positive().max(3600).default(30),
      /** Attempts per download round; rounds repeat with back-off until the network is back. */
      downloadRetries: z.number().int().min(1).max(100).default(5),
      retryBackoffMinMs: z.number().int().min(10).default(1000),
      retryBackoffMaxMs: z.number().int().min(10).default(300_000),
      maxArtifactBytes: z
        .number()
        .int()
        .positive()
        .default(512 * 1024 * 1024),
      /** How often a deferred switch re-checks maintenance windows and the edge condition. */
      switchCheckS: z.number().positive().default(30),
      /** Watchdog period when the desired state's switch policy gives none. */
      watchdogS: z.number().positive().default(300),
      /** Inferences before the watchdog judges p99 latency and alert rate. */
      watchdogMinSamples: z.number().int().min(1).default(50),
    })
    .prefault({}),
});

export type AgentConfig = z.output<typeof AgentConfigSchema>;

/** Pure: builds the frozen agent config from a YAML file text and `MW_` environment variables. */
export function loadAgentConfig(src: ConfigSources): Readonly<AgentConfig> {
  return loadConfigWith(AgentConfigSchema, src);
}
