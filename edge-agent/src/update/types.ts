/** Plain types of the edge half of rollouts; the NATS adapters map proto messages to and from these. */
import type { CapturePolicy } from '../capture/policy.js';
import type { ModelManifest } from '../domain/model.js';
import type { SignedTrustBundle } from './trust-bundle.js';

/** Where a model version stands on this agent, as reported to the control plane. */
export type UpdatePhase =
  | 'idle'
  | 'downloading'
  | 'verifying'
  | 'self_testing'
  | 'waiting_window'
  | 'shadowing'
  | 'active'
  | 'failed'
  | 'rolled_back';

/** The signature block exactly as it travels: base64 strings, the payload never re-encoded. */
export interface ArtifactSignature {
  /** First 16 hex chars of sha256(raw 32-byte public key). */
  keyId: string;
  /** Base64 raw ed25519 signature over the decoded `payload` bytes. */
  signature: string;
  /** Base64 of the encoded SignedPayload. */
  payload: string;
}

/** One model version the control plane wants on this agent (unverified until checked). */
export interface DesiredArtifact {
  model: string;
  version: string;
  url: string;
  urlExpiresAtMs: number;
  /** Unsigned hints; the signed payload's digest and size are the ones enforced. */
  sha256: string;
  sizeBytes: number;
  signature: ArtifactSignature | undefined;
}

export interface MaintenanceWindow {
  /** 5-field cron expression of the window's start, in the policy's time zone. */
  cron: string;
  durationS: number;
}

/** When a verified version may go live and how it is watched afterwards; 0 = not set. */
export interface SwitchRules {
  /** Edge condition that must hold (e.g. "plc.batch_running == 0"); empty = always. */
  condition: string;
  force: boolean;
  windows: MaintenanceWindow[];
  /** IANA zone; empty = UTC. */
  timeZone: string;
  watchdogS: number;
  maxLatencyUs: number;
  maxAlertRate: number;
}

/** The decoded desired state of this agent. */
export interface DesiredUpdate {
  generation: number;
  rolloutId: string;
  model: DesiredArtifact | undefined;
  shadow: DesiredArtifact | undefined;
  rules: SwitchRules;
  /** The merged agent config layers (google.protobuf.Struct as a plain object); absent: none. */
  config?: Record<string, unknown>;
  /** The signed trust bundle (`DesiredState.trust`); absent until the control plane first issued one. */
  trust?: SignedTrustBundle;
  /** The capture policy (`DesiredState.capture`), applied with the config; absent: none. */
  capture?: CapturePolicy;
  /**
   * Re-signatures of versions this agent may hold besides `model` and `shadow` (its running and fallback
   * versions, `DesiredState.resignatures`): adopted for installed versions, never installed.
   */
  resignatures?: VersionSignature[];
}

/** A version's signature, e.g. re-made by the active key after a key rotation or revocation. */
export interface VersionSignature {
  model: string;
  version: string;
  signature: ArtifactSignature | undefined;
}

/** What the control plane signed: manifest, digest and size, and the explicit-rollback permission. */
export interface SignedRelease {
  manifest: ModelManifest;
  sha256: string;
  sizeBytes: number;
  rollback: boolean;
  rollbackFrom: string;
  signedAtMs: number;
}

/** One state transition, reported on the agent's `.state` subject. */
export interface StateReport {
  phase: UpdatePhase;
  version: string;
  reason: string;
  desiredGeneration: number;
  rolloutId: string;
  previousVersion: string;
  atMs: number;
  /** Desired-state generation whose config is in effect; 0 (or absent) before any. */
  configGeneration?: number;
  /** Why the config of `desiredGeneration` was refused (the model part still went ahead); absent when it applied. */
  configError?: string;
}

export const EMPTY_RULES: SwitchRules = Object.freeze({
  condition: '',
  force: false,
  windows: [],
  timeZone: '',
  watchdogS: 0,
  maxLatencyUs: 0,
  maxAlertRate: 0,
});
