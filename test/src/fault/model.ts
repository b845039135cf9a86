/** A signed model installed on an agent's disk, restored by the agent at start like after a reboot. */
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelRuntime, SignedPayload } from '@millwright/proto';

const MODEL = 'press';
const VERSION = '1.0.0';

export interface ModelShape {
  /** Logistic weights on (vib_h.rms, vib_h.skewness). */
  weights: [number, number];
  intercept: number;
}

/** Scores far below every threshold: every window is a plain PREDICTION record. */
export const QUIET_MODEL: ModelShape = { weights: [0, 0], intercept: -4 };
/** The sign of a window's skewness decides: alerts come and go (ANOMALOUS predictions and ALERT records). */
export const FLAPPING_MODEL: ModelShape = { weights: [0, 60], intercept: 0 };

/**
 * Writes `<dataDir>/models/press/1.0.0/` and `current.json` as the update manager leaves them, signed
 * with a fresh ed25519 key. Returns the base64 public key to pin with MW_TRUST_KEYS.
 */
export async function installSignedModel(dataDir: string, shape: ModelShape): Promise<string> {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  const artifact = Buffer.from(JSON.stringify({ weights: shape.weights, intercept: shape.intercept }));
  const x = [0.5, 0.25];
  const expected = 1 / (1 + Math.exp(-(shape.intercept + shape.weights[0] * x[0]! + shape.weights[1] * x[1]!)));
  const manifest = {
    model: MODEL,
    version: VERSION,
    runtime: ModelRuntime.MODEL_RUNTIME_LOGISTIC,
    inputs: [
      { name: 'vib_h.rms', unit: 'g' },
      { name: 'vib_h.skewness', unit: '1' },
    ],
    output: { meaning: 'p(fault)', alertThreshold: 0.5, uncertainLow: 0.4, uncertainHigh: 0.6, onnxOutput: '' },
    selfTest: [{ inputs: x, expectedScore: expected, tolerance: 1e-9 }],
    trainingMetrics: {},
    lineage: undefined,
    reference: [],
    sequence: 1,
    description: 'fault-test model',
  };
  const payload = SignedPayload.encode({
    manifest,
    sha256: createHash('sha256').update(artifact).digest('hex'),
    sizeBytes: artifact.length,
    rollback: false,
    rollbackFrom: '',
    signedAtMs: Date.now(),
  }).finish();
  const signature = {
    keyId: createHash('sha256').update(raw).digest('hex').slice(0, 16),
    signature: sign(null, payload, privateKey).toString('base64'),
    payload: Buffer.from(payload).toString('base64'),
  };
  const dir = join(dataDir, 'models', MODEL, VERSION);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'artifact'), artifact);
  await writeFile(join(dir, 'signature.json'), JSON.stringify(signature));
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
  const pointer = { format: 1, active: { model: MODEL, version: VERSION }, generation: 0, rolloutId: '', rejected: [] };
  await writeFile(join(dataDir, 'models', 'current.json'), JSON.stringify(pointer));
  return raw.toString('base64');
}
