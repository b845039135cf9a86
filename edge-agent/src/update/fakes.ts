/** In-memory fakes of the update ports and signing helpers, for tests only. */
import { generateKeyPairSync, sign } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { ErrorCode, IntegrityError, MillwrightError } from '../domain/errors.js';
import type { ModelManifest } from '../domain/model.js';
import type { TrustBundleOutcome, UpdateMetrics } from './metrics.js';
import type {
  ArtifactFetcher,
  ConditionResult,
  ConditionSource,
  DesiredStateSource,
  FetchRequest,
  SignedPayloadDecoder,
  StateReporter,
  UpdateClock,
} from './ports.js';
import { keyIdOf } from './trust.js';
import { bundleMessage, type TrustBundleContent, type TrustBundleDecoder } from './trust-bundle.js';
import {
  type ArtifactSignature,
  type DesiredUpdate,
  EMPTY_RULES,
  type SignedRelease,
  type StateReport,
} from './types.js';

export class FakeDesiredSource implements DesiredStateSource {
  private listener: ((d: DesiredUpdate) => void) | undefined;
  started = false;

  async start(onDesired: (d: DesiredUpdate) => void): Promise<void> {
    this.listener = onDesired;
    this.started = true;
  }

  async stop(): Promise<void> {
    this.listener = undefined;
  }

  push(d: DesiredUpdate): void {
    this.listener?.(d);
  }
}

export class RecordingReporter implements StateReporter {
  readonly reports: StateReport[] = [];

  report(r: StateReport): void {
    this.reports.push(r);
  }

  /** "phase version" per report, e.g. ["downloading 2.0.0", "verifying 2.0.0", ...]. */
  trail(): string[] {
    return this.reports.map((r) => `${r.phase} ${r.version}`);
  }

  last(): StateReport | undefined {
    return this.reports.at(-1);
  }
}

/** Serves artifacts by URL; `failures` transient failures first; `corrupt` flips a byte. */
export class FakeFetcher implements ArtifactFetcher {
  readonly artifacts = new Map<string, Uint8Array>();
  failures = 0;
  calls = 0;
  corrupt = false;

  async fetch(req: FetchRequest, signal: AbortSignal): Promise<void> {
    this.calls++;
    if (signal.aborted) throw signal.reason;
    if (this.failures > 0) {
      this.failures--;
      throw new MillwrightError(ErrorCode.UNAVAILABLE, 'connect ECONNREFUSED (fake network down)');
    }
    const bytes = this.artifacts.get(req.url);
    if (!bytes) throw new MillwrightError(ErrorCode.UNAVAILABLE, `no artifact at ${req.url}`);
    const out = Buffer.from(bytes);
    if (this.corrupt) out[0] = (out[0] ?? 0) ^ 0xff;
    await writeFile(req.partialPath, out);
  }
}

/** Keeps what the update manager counted: the last value of each gauge, every counter event. */
export class RecordingMetrics implements UpdateMetrics {
  readonly events: string[] = [];
  readonly gauges = new Map<string, boolean>();

  trustBundle(outcome: TrustBundleOutcome): void {
    this.events.push(`trust_bundle ${outcome}`);
  }
  trustBlocked(on: boolean): void {
    this.gauges.set('trust_blocked', on);
  }
  activeRevoked(on: boolean): void {
    this.gauges.set('active_revoked', on);
  }
  revokedDropped(slot: 'previous' | 'shadow'): void {
    this.events.push(`revoked_dropped ${slot}`);
  }
  configRefused(on: boolean): void {
    this.gauges.set('config_refused', on);
  }
}

export class FakeConditions implements ConditionSource {
  readonly values = new Map<string, boolean>();
  evaluations = 0;

  async evaluate(condition: string): Promise<ConditionResult> {
    this.evaluations++;
    const v = this.values.get(condition);
    return v === undefined ? { allowed: false, detail: 'unknown condition' } : { allowed: v, detail: `is ${v}` };
  }
}

/** Time moves only through `advance`; sleeps resolve in due order. */
export class ManualClock implements UpdateClock {
  private timers: { at: number; resolve: () => void }[] = [];

  constructor(private t = Date.UTC(2026, 5, 1, 12, 0, 0)) {}

  readonly now = (): number => this.t;

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = { at: this.t + ms, resolve };
      this.timers.push(timer);
      signal?.addEventListener(
        'abort',
        () => {
          this.timers = this.timers.filter((x) => x !== timer);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }

  pending(): number {
    return this.timers.length;
  }

  async advance(ms: number): Promise<void> {
    this.t += ms;
    const due = this.timers.filter((x) => x.at <= this.t);
    this.timers = this.timers.filter((x) => x.at > this.t);
    for (const x of due) x.resolve();
    await new Promise((r) => setImmediate(r));
  }

  set(ms: number): void {
    this.t = ms;
  }
}

/** Test codec: the "signed payload" is the release as JSON (the proto codec is tested in its adapter). */
export function encodeReleaseJson(r: SignedRelease): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(r));
}

export const decodeReleaseJson: SignedPayloadDecoder = (bytes) => {
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as SignedRelease;
  } catch {
    throw new IntegrityError('payload is not JSON', { reason: 'bad_payload' });
  }
};

/** A real ed25519 key pair that signs payload bytes the way the control plane does. */
export function testSigner() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  const keyId = keyIdOf(raw);
  return {
    publicKeyB64: raw.toString('base64'),
    keyId,
    sign(payload: Uint8Array): ArtifactSignature {
      const signature = sign(null, payload, privateKey).toString('base64');
      return { keyId, signature, payload: Buffer.from(payload).toString('base64') };
    },
    /** A raw signature over a trust bundle payload, as the control plane signs bundles. */
    signBundle(payload: Uint8Array): { keyId: string; signature: Uint8Array } {
      return { keyId, signature: new Uint8Array(sign(null, bundleMessage(payload), privateKey)) };
    },
  };
}

/** Test codec for trust bundles: the payload is the content as JSON (the proto codec lives in its adapter). */
export function encodeBundleJson(c: TrustBundleContent): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(c));
}

export const decodeBundleJson: TrustBundleDecoder = (bytes) => {
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as TrustBundleContent;
  } catch {
    throw new IntegrityError('bundle payload is not JSON', { reason: 'bad_payload' });
  }
};

export function testRelease(
  manifest: ModelManifest,
  sha256: string,
  sizeBytes: number,
  over: Partial<SignedRelease> = {},
) {
  return { manifest, sha256, sizeBytes, rollback: false, rollbackFrom: '', signedAtMs: 0, ...over };
}

export function desiredUpdate(over: Partial<DesiredUpdate>): DesiredUpdate {
  return { generation: 1, rolloutId: 'r1', model: undefined, shadow: undefined, rules: EMPTY_RULES, ...over };
}
