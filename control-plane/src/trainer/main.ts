#!/usr/bin/env node
/**
 * Example trainer: `node control-plane/dist/trainer/main.js` (config from MW_* variables, see
 * docs/RETRAINING.md). Claims retraining requests, reads the snapshot from S3 verifying every sha256,
 * fits by the base version's runtime (`bearing_health`: the pack's training tooling on the captured
 * raw windows; otherwise logistic regression on the captured features), registers the version with
 * lineage through UploadVersion and completes the request (failing it with the reason when training fails).
 */
import { readFileSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { ChannelCredentials } from '@grpc/grpc-js';
import {
  type ArtifactManifest,
  ModelRegistryServiceClient,
  type ModelVersion,
  type RetrainingRequest,
  RetrainingServiceClient,
} from '@millwright/proto';
import { S3DatasetStore } from '../adapters/s3/datasets.js';
import { createS3Client } from '../adapters/s3/samples.js';
import { type CallOptions, CliError, call, channelOf, EXIT, metadataOf, tlsChannel } from '../cli/client.js';
import { sha256Hex } from '../retraining/canonical.js';
import { loadTrainerConfig, type TrainerConfig } from './config.js';
import { train } from './job.js';
import type { TrainerPorts } from './ports.js';

function log(msg: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), msg, ...fields })}\n`);
}

/** TLS when configured; plaintext otherwise, refused when the token would leave the machine. */
export function channelFor(config: Readonly<TrainerConfig>): ChannelCredentials {
  const { tls } = config;
  if (Boolean(tls.certFile) !== Boolean(tls.keyFile)) throw new Error('tls.certFile and tls.keyFile go together');
  const client =
    tls.certFile && tls.keyFile
      ? { certPem: readFileSync(tls.certFile), keyPem: readFileSync(tls.keyFile) }
      : undefined;
  if (tls.enabled || tls.caFile || client) {
    return tlsChannel(tls.caFile ? readFileSync(tls.caFile) : undefined, client);
  }
  return channelOf({ server: config.server, token: config.token, allowPlaintext: tls.allowPlaintext });
}

/** Claims and trains one request; false when none was pending. */
export async function runOnce(config: Readonly<TrainerConfig>): Promise<boolean> {
  const opts: CallOptions = { token: config.token, actor: config.actor, timeoutMs: 30_000 };
  const channel = channelFor(config);
  const rt = new RetrainingServiceClient(config.server, channel);
  const reg = new ModelRegistryServiceClient(config.server, channel);
  const s3 = createS3Client(config.s3);
  try {
    let req: RetrainingRequest;
    try {
      req = await call(rt, rt.claim, { id: '', worker: config.worker, leaseS: config.leaseS }, opts);
    } catch (err) {
      if (err instanceof CliError && err.exitCode === EXIT.NOT_FOUND) return false;
      throw err;
    }
    log('trainer.claimed', { requestId: req.id, model: req.model, base: req.baseVersion, snapshot: req.snapshotId });
    const ports = trainerPorts(rt, reg, new S3DatasetStore({ client: s3, bucket: config.s3.bucket }), opts);
    try {
      const version = await train(ports, req, config);
      const done = await call(rt, rt.complete, { id: req.id, version }, opts);
      log('trainer.completed', { requestId: req.id, version, note: done.progressNote });
    } catch (err) {
      log('trainer.failed', { requestId: req.id, err: String(err) });
      await call(rt, rt.fail, { id: req.id, reason: err instanceof Error ? err.message : String(err) }, opts);
    }
    return true;
  } finally {
    rt.close();
    reg.close();
    s3.destroy();
  }
}

function trainerPorts(
  rt: RetrainingServiceClient,
  reg: ModelRegistryServiceClient,
  blobs: S3DatasetStore,
  opts: CallOptions,
): TrainerPorts {
  return {
    progress: async (id, progress, note) => {
      await call(rt, rt.reportProgress, { id, progress, note }, opts);
    },
    baseManifest: async (model, version) => {
      const v = await call(reg, reg.getVersion, { model, version }, opts);
      if (!v.manifest) throw new Error(`${model}@${version} has no manifest`);
      return v.manifest;
    },
    baseArtifact: async (model, version) => {
      const v = await call(reg, reg.getVersion, { model, version }, opts);
      const { url } = await call(reg, reg.getArtifactUrl, { model, version }, opts);
      const res = await fetch(url, { signal: AbortSignal.timeout(120_000) });
      if (!res.ok) throw new Error(`artifact of ${model}@${version}: HTTP ${res.status}`);
      const bytes = new Uint8Array(await res.arrayBuffer());
      const sha = sha256Hex(bytes);
      if (sha !== v.sha256)
        throw new Error(`artifact of ${model}@${version}: sha256 ${sha}, registry says ${v.sha256}`);
      return bytes;
    },
    readObject: async (key) => {
      const bytes = await blobs.get(key);
      if (!bytes) throw new Error(`s3 object ${key} is missing`);
      return bytes;
    },
    upload: async (manifest, artifact) => {
      await upload(reg, manifest, artifact, opts);
    },
  };
}

/** UploadVersion: the manifest first, then the artifact in one chunk (example models are small). */
function upload(
  client: ModelRegistryServiceClient,
  manifest: ArtifactManifest,
  artifact: Uint8Array,
  opts: CallOptions,
) {
  return new Promise<ModelVersion>((resolve, reject) => {
    const md = metadataOf(opts);
    const stream = client.uploadVersion(md, { deadline: new Date(Date.now() + 120_000) }, (err, res) =>
      err ? reject(new Error(`UploadVersion: ${err.details || err.message}`)) : resolve(res),
    );
    stream.write({ part: { $case: 'manifest', value: manifest }, expectedSha256: '' });
    stream.write({ part: { $case: 'chunk', value: Buffer.from(artifact) }, expectedSha256: '' });
    stream.end();
  });
}

async function main(): Promise<void> {
  const config = loadTrainerConfig({ env: process.env, readFile: (p) => readFileSync(p, 'utf8') });
  for (;;) {
    const worked = await runOnce(config);
    if (config.once) return;
    if (!worked) await new Promise((r) => setTimeout(r, config.pollS * 1000));
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`mw-trainer: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
