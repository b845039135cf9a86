import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import {
  AliasChange,
  ArtifactManifest,
  Model,
  ModelRegistryServiceClient,
  ModelVersion,
  modelRuntimeToJSON,
  RevokeSigningKeyResponse,
  RotateSigningKeyResponse,
  TrustKey,
} from '@millwright/proto';
import type { ParsedArgs } from './args.js';
import { type CallOptions, CliError, call, channelOf, cliErrorOf, EXIT, metadataOf } from './client.js';
import { table } from './format.js';
import { formatBytes, Progress } from './progress.js';

export const MODELS_USAGE = `  models create NAME [--description TEXT]
  models ls
  models push MODEL VERSION --artifact FILE --manifest manifest.json [--create]
  models versions MODEL [--limit N]
  models get MODEL VERSION|ALIAS
  models alias MODEL ALIAS VERSION --reason TEXT
  models alias-history MODEL [ALIAS]
  models url MODEL VERSION|ALIAS
  models keys
  models keys rotate [--key-id ID] --reason TEXT
  models keys revoke KEY_ID --reason TEXT`;

/** Bytes per UploadVersion chunk (the server accepts messages up to 8 MiB). */
const CHUNK_BYTES = 1024 * 1024;
/** Uploads get longer than unary calls unless --timeout says otherwise. */
const PUSH_TIMEOUT_MS = 30 * 60 * 1000;

type Opts = CallOptions & { server: string };
type Client = ModelRegistryServiceClient;

export async function modelsCommand(args: ParsedArgs, opts: Opts): Promise<string> {
  const client = new ModelRegistryServiceClient(opts.server, channelOf(opts));
  try {
    const [sub, ...pos] = args.positionals;
    switch (sub) {
      case 'create':
        return await create(client, args, need(pos, 1, 'models create NAME'), opts);
      case 'ls':
        return await list(client, args, opts);
      case 'push':
        return await push(
          client,
          args,
          need(pos, 2, 'models push MODEL VERSION --artifact FILE --manifest FILE'),
          opts,
        );
      case 'versions':
        return await versions(client, args, need(pos, 1, 'models versions MODEL'), opts);
      case 'get':
        return await get(client, args, need(pos, 2, 'models get MODEL VERSION|ALIAS'), opts);
      case 'alias':
        return await alias(client, args, need(pos, 3, 'models alias MODEL ALIAS VERSION --reason TEXT'), opts);
      case 'alias-history':
        return await aliasHistory(client, args, need(pos, 1, 'models alias-history MODEL [ALIAS]'), opts);
      case 'url':
        return await url(client, args, need(pos, 2, 'models url MODEL VERSION|ALIAS'), opts);
      case 'keys':
        return await keysCommand(client, args, pos, opts);
      default:
        throw new CliError(`usage:\n${MODELS_USAGE}`, EXIT.USAGE);
    }
  } finally {
    client.close();
  }
}

function need(pos: string[], n: number, usage: string): string[] {
  if (pos.length < n) throw new CliError(`usage: mwctl ${usage}`, EXIT.USAGE);
  return pos;
}

function flag(args: ParsedArgs, name: string): string | undefined {
  return args.flags[name]?.[0];
}

function requiredFlag(args: ParsedArgs, name: string, usage: string): string {
  const v = flag(args, name);
  if (!v) throw new CliError(`--${name} is required: mwctl ${usage}`, EXIT.USAGE);
  return v;
}

async function create(client: Client, args: ParsedArgs, [name]: string[], opts: Opts): Promise<string> {
  const model = await call(
    client,
    client.createModel,
    { name: name!, description: flag(args, 'description') ?? '' },
    opts,
  );
  return args.json ? json(Model.toJSON(model)) : `created model ${model.name}`;
}

async function list(client: Client, args: ParsedArgs, opts: Opts): Promise<string> {
  const models: Model[] = [];
  let pageToken = '';
  do {
    const res = await call(client, client.listModels, { page: { pageSize: 500, pageToken } }, opts);
    models.push(...res.models);
    pageToken = res.page?.nextPageToken ?? '';
  } while (pageToken);
  if (args.json) return json(models.map((m) => Model.toJSON(m)));
  return table(
    ['MODEL', 'LATEST SEQ', 'ALIASES', 'CREATED', 'DESCRIPTION'],
    models.map((m) => [m.name, m.latestSequence, aliasList(m.aliases), date(m.createdAtMs), m.description]),
  );
}

async function versions(client: Client, args: ParsedArgs, [model]: string[], opts: Opts): Promise<string> {
  const limit = Number(flag(args, 'limit') ?? 0);
  const all: ModelVersion[] = [];
  let pageToken = '';
  do {
    const res = await call(client, client.listVersions, { model: model!, page: { pageSize: 200, pageToken } }, opts);
    all.push(...res.versions);
    pageToken = res.page?.nextPageToken ?? '';
  } while (pageToken && (!limit || all.length < limit));
  const shown = limit ? all.slice(0, limit) : all;
  if (args.json) return json(shown.map((v) => ModelVersion.toJSON(v)));
  return table(
    ['VERSION', 'SEQ', 'RUNTIME', 'SIZE', 'SHA256', 'ALIASES', 'PARENT', 'DATASET', 'CREATED', 'BY'],
    shown.map((v) => [
      v.version,
      v.manifest?.sequence ?? 0,
      runtime(v),
      formatBytes(v.sizeBytes),
      v.sha256.slice(0, 12),
      v.aliases.join(',') || '-',
      v.manifest?.lineage?.parentVersion || '-',
      v.manifest?.lineage?.datasetSnapshotId || '-',
      date(v.createdAtMs),
      v.createdBy,
    ]),
  );
}

async function get(client: Client, args: ParsedArgs, [model, ref]: string[], opts: Opts): Promise<string> {
  const v = await call(client, client.getVersion, { model: model!, version: ref! }, opts);
  return args.json ? json(ModelVersion.toJSON(v)) : describeVersion(v);
}

async function alias(client: Client, args: ParsedArgs, [model, name, version]: string[], opts: Opts): Promise<string> {
  const reason = requiredFlag(args, 'reason', 'models alias MODEL ALIAS VERSION --reason TEXT');
  const m = await call(client, client.setAlias, { model: model!, alias: name!, version: version!, reason }, opts);
  return args.json ? json(Model.toJSON(m)) : `${m.name}: ${name} -> ${m.aliases[name!] ?? version}`;
}

async function aliasHistory(client: Client, args: ParsedArgs, [model, name]: string[], opts: Opts): Promise<string> {
  const res = await call(client, client.listAliasHistory, { model: model!, alias: name ?? '' }, opts);
  if (args.json) return json(res.changes.map((c) => AliasChange.toJSON(c)));
  return table(
    ['AT', 'ALIAS', 'FROM', 'TO', 'ACTOR', 'REASON'],
    res.changes.map((c) => [date(c.atMs), c.alias, c.fromVersion || '-', c.toVersion, c.actor, c.reason]),
  );
}

async function url(client: Client, args: ParsedArgs, [model, ref]: string[], opts: Opts): Promise<string> {
  const res = await call(client, client.getArtifactUrl, { model: model!, version: ref! }, opts);
  return args.json ? json({ url: res.url, expiresAtMs: res.expiresAtMs }) : res.url;
}

async function keysCommand(client: Client, args: ParsedArgs, pos: string[], opts: Opts): Promise<string> {
  switch (pos[0]) {
    case undefined:
      return keys(client, args, opts);
    case 'rotate':
      return rotateKey(client, args, opts);
    case 'revoke':
      return revokeKey(client, args, need(pos, 2, 'models keys revoke KEY_ID --reason TEXT'), opts);
    default:
      throw new CliError(`usage:\n${MODELS_USAGE}`, EXIT.USAGE);
  }
}

async function keys(client: Client, args: ParsedArgs, opts: Opts): Promise<string> {
  const res = await call(client, client.listTrustKeys, {}, opts);
  if (args.json) return json(res.keys.map((k) => TrustKey.toJSON(k)));
  return table(
    ['KEY ID', 'ACTIVE', 'CREATED', 'REVOKED', 'PUBLIC KEY (ed25519, base64)'],
    res.keys.map((k) => [
      k.keyId,
      k.active ? 'yes' : 'no',
      date(k.createdAtMs),
      k.revokedAtMs ? `${date(k.revokedAtMs)} (${k.revokedReason})` : '-',
      k.publicKey,
    ]),
  );
}

async function rotateKey(client: Client, args: ParsedArgs, opts: Opts): Promise<string> {
  const reason = requiredFlag(args, 'reason', 'models keys rotate [--key-id ID] --reason TEXT');
  const res = await call(client, client.rotateSigningKey, { keyId: flag(args, 'key-id') ?? '', reason }, opts);
  if (args.json) return json(RotateSigningKeyResponse.toJSON(res));
  return [
    `signing key ${res.key?.keyId} is active (was ${res.previous?.keyId || 'none'}, which stays trusted)`,
    `trust bundle ${res.bundleSequence} issued to ${res.agents} agents`,
    `re-signed: ${res.resignedVersions.join(', ') || '-'}`,
  ].join('\n');
}

async function revokeKey(client: Client, args: ParsedArgs, [, keyId]: string[], opts: Opts): Promise<string> {
  const reason = requiredFlag(args, 'reason', 'models keys revoke KEY_ID --reason TEXT');
  const res = await call(client, client.revokeSigningKey, { keyId: keyId!, reason }, opts);
  if (args.json) return json(RevokeSigningKeyResponse.toJSON(res));
  return [
    `signing key ${res.key?.keyId} is revoked`,
    `trust bundle ${res.bundleSequence} issued to ${res.agents} agents`,
    `re-signed: ${res.resignedVersions.join(', ') || '-'}`,
    `no longer deployable (signed only by revoked keys): ${res.unusableVersions.join(', ') || '-'}`,
  ].join('\n');
}

async function push(client: Client, args: ParsedArgs, [model, version]: string[], opts: Opts): Promise<string> {
  const usage = 'models push MODEL VERSION --artifact FILE --manifest FILE [--create]';
  const artifact = requiredFlag(args, 'artifact', usage);
  const manifest = readManifest(requiredFlag(args, 'manifest', usage), model!, version!);
  const size = fileSize(artifact);
  if (flag(args, 'create') === 'true') await createIfMissing(client, model!, opts);
  const sha256 = await sha256File(artifact);
  const progress = new Progress(process.stderr, size);
  const timeoutMs = args.flags.timeout ? opts.timeoutMs : PUSH_TIMEOUT_MS;
  const v = await upload(client, { manifest, sha256, file: artifact, progress }, { ...opts, timeoutMs });
  return args.json ? json(ModelVersion.toJSON(v)) : describeVersion(v);
}

/**
 * Reads a manifest in proto3 JSON (ArtifactManifest.fromJSON); model and version come from the
 * command line when the file leaves them out and must agree with it when it does not.
 */
export function readManifest(file: string, model: string, version: string): ArtifactManifest {
  let manifest: ArtifactManifest;
  try {
    manifest = ArtifactManifest.fromJSON(JSON.parse(readFileSync(file, 'utf8')));
  } catch (err) {
    throw new CliError(`--manifest ${file}: ${(err as Error).message}`, EXIT.USAGE);
  }
  for (const [key, value] of [
    ['model', model],
    ['version', version],
  ] as const) {
    if (manifest[key] && manifest[key] !== value) {
      throw new CliError(`--manifest ${file} names ${key} ${manifest[key]}, the command pushes ${value}`, EXIT.USAGE);
    }
  }
  return { ...manifest, model, version };
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch (err) {
    throw new CliError(`--artifact ${file}: ${(err as Error).message}`, EXIT.USAGE);
  }
}

async function createIfMissing(client: Client, model: string, opts: Opts): Promise<void> {
  const exists = await call(client, client.getModel, { name: model }, opts).then(
    () => true,
    (err: unknown) => {
      if (err instanceof CliError && err.exitCode === EXIT.NOT_FOUND) return false;
      throw err;
    },
  );
  if (!exists) await call(client, client.createModel, { name: model, description: '' }, opts);
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: CHUNK_BYTES })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

interface UploadJob {
  manifest: ArtifactManifest;
  sha256: string;
  file: string;
  progress: Progress;
}

/** Streams the manifest, then the file in chunks, honouring back-pressure; stops writing when the server answers early. */
function upload(client: Client, job: UploadJob, opts: Opts): Promise<ModelVersion> {
  const stop = new AbortController();
  return new Promise<ModelVersion>((resolve, reject) => {
    const stream = client.uploadVersion(
      metadataOf(opts),
      { deadline: new Date(Date.now() + opts.timeoutMs) },
      (err, res) => {
        stop.abort();
        if (err) reject(cliErrorOf(err));
        else {
          job.progress.finish();
          resolve(res);
        }
      },
    );
    const send = async () => {
      stream.write({ part: { $case: 'manifest', value: job.manifest }, expectedSha256: job.sha256 });
      const chunks = createReadStream(job.file, { highWaterMark: CHUNK_BYTES, signal: stop.signal });
      for await (const chunk of chunks) {
        const value = chunk as Buffer;
        if (!stream.write({ part: { $case: 'chunk', value }, expectedSha256: '' })) {
          await once(stream, 'drain', { signal: stop.signal });
        }
        job.progress.advance(value.length);
      }
      stream.end();
    };
    send().catch((err: unknown) => {
      if (stop.signal.aborted) return;
      stream.cancel();
      reject(new CliError(`reading ${job.file}: ${(err as Error).message}`, EXIT.ERROR));
    });
  });
}

function describeVersion(v: ModelVersion): string {
  const m = v.manifest;
  const rows: [string, string | number][] = [
    ['model', v.model],
    ['version', v.version],
    ['sequence', m?.sequence ?? 0],
    ['runtime', runtime(v)],
    ['inputs', (m?.inputs ?? []).map((f) => (f.unit ? `${f.name} [${f.unit}]` : f.name)).join(', ')],
    ['output', m?.output?.meaning || '-'],
    ['alert threshold', m?.output?.alertThreshold ?? 0],
    ['self-test vectors', m?.selfTest.length ?? 0],
    ['size', `${formatBytes(v.sizeBytes)} (${v.sizeBytes} bytes)`],
    ['sha256', v.sha256],
    ['aliases', v.aliases.join(', ') || '-'],
    ['parent version', m?.lineage?.parentVersion || '-'],
    ['dataset snapshot', m?.lineage?.datasetSnapshotId || '-'],
    ['training run', m?.lineage?.trainingRunUrl || '-'],
    ['signed by key', v.signature?.keyId ?? '-'],
    ['artifact key', v.artifactKey],
    ['created', `${date(v.createdAtMs)} by ${v.createdBy}`],
  ];
  return rows.map(([k, val]) => `${k.padEnd(18)} ${val}`).join('\n');
}

function runtime(v: ModelVersion): string {
  return modelRuntimeToJSON(v.manifest?.runtime ?? 0)
    .replace('MODEL_RUNTIME_', '')
    .toLowerCase();
}

function aliasList(aliases: Record<string, string>): string {
  return (
    Object.entries(aliases)
      .map(([a, v]) => `${a}=${v}`)
      .join(',') || '-'
  );
}

function date(ms: number): string {
  return ms ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z') : '-';
}

function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
