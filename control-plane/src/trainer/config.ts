import { z } from 'zod';
import { type ConfigSources, loadConfigWith } from '../config-loader.js';

export const TrainerConfigSchema = z.object({
  /** Control plane gRPC address. */
  server: z.string().min(1).default('127.0.0.1:7443'),
  /** API token (a secret: prefer MW_TOKEN_FILE). */
  token: z.string().optional(),
  /** TLS to the control plane, with mwctl's rules: without it a token only goes to a loopback server. */
  tls: z
    .object({
      enabled: z.boolean().default(false),
      /** PEM CA to trust instead of the system CAs (implies enabled). */
      caFile: z.string().optional(),
      /** Client certificate for servers that require one (mutual TLS). */
      certFile: z.string().optional(),
      keyFile: z.string().optional(),
      /** Send the token unencrypted to a non-loopback server (trusted network only). */
      allowPlaintext: z.boolean().default(false),
    })
    .prefault({}),
  /** Sent as x-mw-actor (development auth) and recorded as the version's creator. */
  actor: z.string().default('example-trainer'),
  /** Trainer identity in claims. */
  worker: z.string().default('example-trainer'),
  leaseS: z.number().int().positive().default(600),
  /** Exit after one request (or none pending) instead of polling. */
  once: z.boolean().default(false),
  pollS: z.number().positive().default(10),
  s3: z
    .object({
      endpoint: z.string().url().optional(),
      region: z.string().default('us-east-1'),
      bucket: z.string().min(3).default('millwright'),
      accessKeyId: z.string().optional(),
      secretAccessKey: z.string().optional(),
      forcePathStyle: z.boolean().default(false),
    })
    .prefault({}),
  /** Weight of an operator-labelled row against a row labelled by the base model's own decision. */
  labelWeight: z.number().positive().default(5),
  iterations: z.number().int().positive().default(800),
  /** `bearing_health` models (the pack's training tooling). */
  bearing: z
    .object({
      /** Candidate alert thresholds for runs that end in a confirmed failure (the base's is tried too). */
      thresholds: z.array(z.number().positive()).min(1).default([2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6, 7, 8, 10]),
      /** False alerts allowed per failed run when choosing the threshold. */
      maxFalseAlertsPerRun: z
        .number()
        .min(0)
        .default(1 / 3),
    })
    .prefault({}),
});
export type TrainerConfig = z.output<typeof TrainerConfigSchema>;

/** Pure: the trainer's config from `MW_` variables (`MW_SERVER`, `MW_S3_BUCKET`, …) and an optional YAML file. */
export function loadTrainerConfig(src: ConfigSources): Readonly<TrainerConfig> {
  return loadConfigWith(TrainerConfigSchema, src);
}
