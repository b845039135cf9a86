import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mwctl } from '../../harness/index.js';

export const MODEL = 'press-bench';

/**
 * A linear model padded to `bytes` with a `description` field the runtime ignores (its schema strips
 * unknown keys), so the registry's load + self-test passes on a realistically sized artifact.
 */
function paddedModel(intercept: number, bytes: number): string {
  const head = JSON.stringify({ weights: [1], intercept, description: '' });
  return head.replace('"description":""', `"description":"${'x'.repeat(Math.max(0, bytes - head.length))}"`);
}

/** Pushes `version` (artifact of `bytes`) through the real registry with mwctl. */
export async function pushVersion(server: string, dir: string, version: string, intercept: number, bytes: number) {
  const artifact = join(dir, `model-${version}.json`);
  const manifest = join(dir, `manifest-${version}.json`);
  await writeFile(artifact, paddedModel(intercept, bytes));
  await writeFile(
    manifest,
    JSON.stringify({
      runtime: 'MODEL_RUNTIME_LINEAR',
      inputs: [{ name: 'vib_h.rms', unit: 'g' }],
      output: { meaning: 'wear index', alertThreshold: 1000 },
      selfTest: [
        { inputs: [0], expectedScore: intercept, tolerance: 1e-9 },
        { inputs: [1], expectedScore: intercept + 1, tolerance: 1e-9 },
      ],
    }),
  );
  await ok(server, 'models', 'push', MODEL, version, '--artifact', artifact, '--manifest', manifest, '--create');
}

/** The registry's signing keys (base64 raw ed25519), which agents pin. */
export async function trustKeys(server: string): Promise<string[]> {
  const keys = JSON.parse(await ok(server, 'models', 'keys', '--json')) as { publicKey: string }[];
  return keys.map((k) => k.publicKey);
}

/** A presigned URL of `version`'s artifact (from the registry) and the digest of the bytes pushed. */
export async function artifactSource(server: string, dir: string, version: string) {
  const { url } = JSON.parse(await ok(server, 'models', 'url', MODEL, version, '--json')) as { url: string };
  const bytes = await readFile(join(dir, `model-${version}.json`));
  return { url, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
}

async function ok(server: string, ...args: string[]): Promise<string> {
  const res = await mwctl([...args, '--server', server], { MW_ACTOR: 'bench' });
  if (res.code !== 0) throw new Error(`mwctl ${args.slice(0, 3).join(' ')} exited ${res.code}: ${res.stderr}`);
  return res.stdout;
}
