/** What the update use case needs from the outside world; in-memory fakes live in `fakes.ts`. */
import type { DesiredUpdate, SignedRelease, StateReport } from './types.js';

/**
 * Delivers this agent's desired state: the latest value at start and after every reconnect, then
 * each change. Values may repeat; the manager ignores generations it already handled.
 */
export interface DesiredStateSource {
  start(onDesired: (desired: DesiredUpdate) => void): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Sends state transitions to the control plane. Never blocks the update: an offline agent queues
 * (bounded) and delivers in order once connected; `stop` flushes within its deadline.
 */
export interface StateReporter {
  report(report: StateReport): void;
}

/** One artifact download into a partial file that survives restarts. */
export interface FetchRequest {
  model: string;
  version: string;
  url: string;
  urlExpiresAtMs: number;
  /** The signed size: the download stops with an error beyond it. */
  expectedBytes: number;
  /** Resumed from its current length when it exists. */
  partialPath: string;
}

/**
 * Downloads an artifact by (presigned) URL, resuming and retrying within one call.
 * Resolves once `partialPath` holds `expectedBytes` bytes; the caller verifies the digest.
 * @throws MillwrightError `UNAVAILABLE` when retries ran out (transient: try again later),
 *   `RESOURCE_EXHAUSTED` over the size limit, `INTEGRITY` when the server sends more than expected.
 */
export interface ArtifactFetcher {
  fetch(req: FetchRequest, signal: AbortSignal): Promise<void>;
}

/** Fresh presigned URL for a version whose URL expired or was refused. */
export interface ArtifactUrlSource {
  /** @throws MillwrightError `UNAVAILABLE` when offline, `NOT_FOUND` when the control plane refuses. */
  refresh(model: string, version: string, signal: AbortSignal): Promise<{ url: string; expiresAtMs: number }>;
}

export interface ConditionResult {
  allowed: boolean;
  /** Why, for the WAITING_WINDOW report (e.g. "plc.batch_running = 1"). */
  detail: string;
}

/**
 * Evaluates a production-state condition at the edge (for example a PLC tag), deciding whether a
 * switch may happen now. An unknown or unreadable condition must answer `allowed: false`.
 */
export interface ConditionSource {
  evaluate(condition: string, signal: AbortSignal): Promise<ConditionResult>;
}

/**
 * Decodes the signed payload bytes (after their signature verified) into a release.
 * @throws IntegrityError when the bytes are not a valid SignedPayload with a usable manifest.
 */
export type SignedPayloadDecoder = (bytes: Uint8Array) => SignedRelease;

/** Injected time, so tests never race real timers. */
export interface UpdateClock {
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemUpdateClock: UpdateClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};
