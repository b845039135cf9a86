import {
  type ArtifactManifest,
  type CapturePolicy as CapturePolicyPb,
  type DesiredModel,
  DesiredState,
  ModelRuntime,
  SignedPayload,
  type SwitchPolicy,
  subjects,
  type TrustBundle,
  TrustBundlePayload,
} from '@millwright/proto';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { CapturePolicy } from '../../capture/policy.js';
import { IntegrityError } from '../../domain/errors.js';
import type { ModelManifest, Runtime } from '../../domain/model.js';
import type { DesiredStateSource, SignedPayloadDecoder } from '../../update/ports.js';
import type { SignedTrustBundle, TrustBundleDecoder } from '../../update/trust-bundle.js';
import type { DesiredArtifact, DesiredUpdate, SignedRelease, SwitchRules } from '../../update/types.js';

const RUNTIMES: Partial<Record<ModelRuntime, Runtime>> = {
  [ModelRuntime.MODEL_RUNTIME_LINEAR]: 'linear',
  [ModelRuntime.MODEL_RUNTIME_LOGISTIC]: 'logistic',
  [ModelRuntime.MODEL_RUNTIME_XGBOOST_JSON]: 'xgboost_json',
  [ModelRuntime.MODEL_RUNTIME_MAHALANOBIS]: 'mahalanobis',
  [ModelRuntime.MODEL_RUNTIME_BEARING_HEALTH]: 'bearing_health',
  [ModelRuntime.MODEL_RUNTIME_ONNX]: 'onnx',
};

/**
 * Decodes verified SignedPayload bytes into a release with a domain manifest.
 * @throws IntegrityError (reason `bad_payload`) for undecodable bytes, no manifest or an unknown runtime.
 */
export const decodeSignedPayload: SignedPayloadDecoder = (bytes) => {
  let p: SignedPayload;
  try {
    p = SignedPayload.decode(bytes);
  } catch (err) {
    throw new IntegrityError(`signed payload is not a SignedPayload: ${(err as Error).message}`, {
      reason: 'bad_payload',
    });
  }
  if (!p.manifest) throw new IntegrityError('signed payload has no manifest', { reason: 'bad_payload' });
  return {
    manifest: manifestFromProto(p.manifest),
    sha256: p.sha256,
    sizeBytes: p.sizeBytes,
    rollback: p.rollback,
    rollbackFrom: p.rollbackFrom,
    signedAtMs: p.signedAtMs,
  } satisfies SignedRelease;
};

function manifestFromProto(m: ArtifactManifest): ModelManifest {
  const runtime = RUNTIMES[m.runtime];
  if (!runtime) throw new IntegrityError(`manifest runtime ${m.runtime} is not known`, { reason: 'bad_payload' });
  const o = m.output;
  const l = m.lineage;
  return {
    model: m.model,
    version: m.version,
    runtime,
    inputs: m.inputs.map((f) => ({ name: f.name, unit: f.unit })),
    output: {
      meaning: o?.meaning ?? '',
      alertThreshold: o?.alertThreshold ?? Number.NaN,
      uncertainLow: o?.uncertainLow ?? 0,
      uncertainHigh: o?.uncertainHigh ?? 0,
      ...(o?.onnxOutput ? { onnxOutput: o.onnxOutput } : {}),
    },
    selfTest: m.selfTest.map((v) => ({ inputs: v.inputs, expectedScore: v.expectedScore, tolerance: v.tolerance })),
    trainingMetrics: { ...m.trainingMetrics },
    lineage: {
      ...(l?.parentVersion ? { parentVersion: l.parentVersion } : {}),
      ...(l?.datasetSnapshotId ? { datasetSnapshotId: l.datasetSnapshotId } : {}),
      ...(l?.trainingRunUrl ? { trainingRunUrl: l.trainingRunUrl } : {}),
      ...(l?.retrainingRequestId ? { retrainingRequestId: l.retrainingRequestId } : {}),
    },
    reference: m.reference.map((r) => ({ ...r })),
    sequence: m.sequence,
    ...(m.description ? { description: m.description } : {}),
  };
}

/** Maps a DesiredState to the domain; an empty model (no name or version) means none. */
export function desiredFromProto(d: DesiredState): DesiredUpdate {
  return {
    generation: d.generation,
    rolloutId: d.rolloutId,
    model: artifactFromProto(d.model),
    shadow: artifactFromProto(d.shadow),
    rules: rulesFromProto(d.switchPolicy),
    ...(d.config ? { config: d.config } : {}),
    ...(d.capture ? { capture: capturePolicyFromProto(d.capture) } : {}),
    ...(d.trust ? { trust: trustFromProto(d.trust) } : {}),
    ...(d.resignatures.length > 0
      ? {
          resignatures: d.resignatures.map((r) => ({
            model: r.model,
            version: r.version,
            signature: r.signature && { ...r.signature },
          })),
        }
      : {}),
  };
}

function trustFromProto(t: TrustBundle): SignedTrustBundle {
  return { payload: t.payload, signatures: t.signatures.map((s) => ({ keyId: s.keyId, signature: s.signature })) };
}

/**
 * Decodes verified TrustBundlePayload bytes.
 * @throws IntegrityError (reason `bad_payload`) for bytes that are not a TrustBundlePayload.
 */
export const decodeTrustBundlePayload: TrustBundleDecoder = (bytes) => {
  let p: TrustBundlePayload;
  try {
    p = TrustBundlePayload.decode(bytes);
  } catch (err) {
    throw new IntegrityError(`trust bundle payload is not a TrustBundlePayload: ${(err as Error).message}`, {
      reason: 'bad_payload',
    });
  }
  return {
    sequence: p.sequence,
    keys: p.keys.map((k) => ({ keyId: k.keyId, publicKey: k.publicKey })),
    revokedKeyIds: [...p.revokedKeyIds],
    issuedAtMs: p.issuedAtMs,
  };
};

/** Maps DesiredState.capture (the message is absent when the desired state carries no policy). */
export function capturePolicyFromProto(p: CapturePolicyPb): CapturePolicy {
  return {
    enabled: p.enabled,
    uncertain: p.uncertain,
    alerts: p.alerts,
    randomRate: p.randomRate,
    aroundLabelS: p.aroundLabelS,
    includeRaw: p.includeRaw,
    includeFeatures: p.includeFeatures,
    maxSamplesPerHour: p.maxSamplesPerHour,
    maxBytesPerHour: p.maxBytesPerHour,
  };
}

function artifactFromProto(m: DesiredModel | undefined): DesiredArtifact | undefined {
  if (!m?.model || !m.version) return undefined;
  return {
    model: m.model,
    version: m.version,
    url: m.artifactUrl,
    urlExpiresAtMs: m.urlExpiresAtMs,
    sha256: m.sha256,
    sizeBytes: m.sizeBytes,
    signature: m.signature && { ...m.signature },
  };
}

function rulesFromProto(p: SwitchPolicy | undefined): SwitchRules {
  return {
    condition: p?.condition ?? '',
    force: p?.force ?? false,
    windows: (p?.windows ?? []).map((w) => ({ cron: w.cron, durationS: w.durationS })),
    timeZone: p?.timeZone ?? '',
    watchdogS: p?.watchdogS ?? 0,
    maxLatencyUs: p?.maxLatencyUs ?? 0,
    maxAlertRate: p?.maxAlertRate ?? 0,
  };
}

export interface KvDesiredDeps {
  /** Current connection; throws while offline (the watch retries). */
  nc: () => NatsConnection;
  siteId: string;
  agentId: string;
  /** A value that does not decode or names another agent; the watch goes on. */
  onInvalid: (reason: string) => void;
  /** Watch failures (broker down); the watch is re-established after `retryMs`. */
  onError: (err: unknown) => void;
  /** @default 2000 */
  retryMs?: number;
}

/**
 * Watches this agent's own key in KV `mw_desired` (the only key it may read). The watch delivers the
 * latest value first, and the 3.x client's ordered consumer resumes after a reconnect; if the watch
 * ends anyway it is re-opened from the last revision seen, so an agent back from a week offline
 * receives the latest desired state.
 */
export class KvDesiredStateSource implements DesiredStateSource {
  private cancelPause: (() => void) | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private stopWatch: (() => void) | undefined;
  private lastRevision = 0;

  constructor(private readonly deps: KvDesiredDeps) {}

  async start(onDesired: (d: DesiredUpdate) => void): Promise<void> {
    this.loop = this.run(onDesired);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopWatch?.();
    this.cancelPause?.();
    await this.loop;
  }

  private async run(onDesired: (d: DesiredUpdate) => void): Promise<void> {
    const key = subjects.agentKey(this.deps.siteId, this.deps.agentId);
    while (!this.stopped) {
      try {
        await this.watchOnce(key, onDesired);
      } catch (err) {
        if (this.stopped) return;
        this.deps.onError(err);
      }
      if (!this.stopped) {
        // Interruptible, so stop() does not wait out a retry pause.
        await new Promise<void>((r) => {
          const t = setTimeout(r, this.deps.retryMs ?? 2000);
          this.cancelPause = () => {
            clearTimeout(t);
            r();
          };
        });
        this.cancelPause = undefined;
      }
    }
  }

  private async watchOnce(key: string, onDesired: (d: DesiredUpdate) => void): Promise<void> {
    const kv = await new Kvm(this.deps.nc()).open(subjects.KV.desired, { allow_direct: true });
    const resume = this.lastRevision > 0 ? { resumeFromRevision: this.lastRevision } : {};
    const watch = await kv.watch({ key, ignoreDeletes: true, ...resume });
    this.stopWatch = () => watch.stop();
    if (this.stopped) watch.stop();
    for await (const e of watch) {
      this.lastRevision = e.revision;
      if (e.operation !== 'PUT' || e.value.length === 0) continue;
      const d = this.decode(e.value);
      if (d) onDesired(d);
    }
  }

  private decode(value: Uint8Array): DesiredUpdate | undefined {
    let d: DesiredState;
    try {
      d = DesiredState.decode(value);
    } catch (err) {
      this.deps.onInvalid(`desired state does not decode: ${(err as Error).message}`);
      return undefined;
    }
    if ((d.agentId && d.agentId !== this.deps.agentId) || (d.siteId && d.siteId !== this.deps.siteId)) {
      this.deps.onInvalid(`desired state names ${d.siteId}/${d.agentId}, not this agent`);
      return undefined;
    }
    return desiredFromProto(d);
  }
}
