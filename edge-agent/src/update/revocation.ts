import type { Logger } from 'pino';
import type { LoadedModel } from '../inference/runtime.js';
import type { UpdateMetrics } from './metrics.js';
import type { VersionRef } from './model-store.js';
import { refKey } from './resign.js';
import type { TrustStore } from './trust.js';

/** A loaded version whose only known signature is by a revoked key. */
export interface RevokedVersion extends VersionRef {
  keyId: string;
}

/**
 * Which key signed each loaded version (verified at install or restore, updated when a re-signature is
 * adopted), so a revocation is checked in memory: synchronously, even inside the watchdog's rollback
 * on the hot path. Also tracks whether the active model is signed only by a revoked key.
 */
export class RevocationWatch {
  private readonly byRef = new Map<string, string>();
  private active: RevokedVersion | undefined;

  constructor(private readonly deps: { trust: TrustStore; log: Logger; metrics: UpdateMetrics }) {}

  signedBy(ref: VersionRef, keyId: string): void {
    this.byRef.set(refKey(ref), keyId);
  }

  /** The revoked key that alone signed `ref`, if it is one. */
  revoked(ref: VersionRef | undefined): RevokedVersion | undefined {
    const keyId = ref && this.byRef.get(refKey(ref));
    return ref && keyId && this.deps.trust.isRevoked(keyId) ? { ...ref, keyId } : undefined;
  }

  /** Forgets versions no longer loaded. */
  retain(refs: readonly (VersionRef | undefined)[]): void {
    const keep = new Set(refs.filter((r): r is VersionRef => !!r).map(refKey));
    for (const k of [...this.byRef.keys()]) if (!keep.has(k)) this.byRef.delete(k);
  }

  /** Re-evaluates the active model (after a bundle, a switch, a rollback); logs and counts a change. */
  checkActive(active: VersionRef | undefined): void {
    const r = this.revoked(active);
    if (r && r.version !== this.active?.version) {
      this.deps.log.error({ version: r.version, keyId: r.keyId }, 'update.active.revoked_key');
    }
    this.active = r;
    this.deps.metrics.activeRevoked(r !== undefined);
  }

  /** The state-report reason while the active model keeps serving although only a revoked key signed it. */
  activeReason(): string | undefined {
    const r = this.active;
    return (
      r &&
      `active version ${r.version} is signed only by revoked key ${r.keyId}: still serving it until a ` +
        're-signed or newer version arrives (docs/SECURITY.md)'
    );
  }
}

export function refOf(model: LoadedModel | undefined): VersionRef | undefined {
  return model && { model: model.manifest.model, version: model.manifest.version };
}
