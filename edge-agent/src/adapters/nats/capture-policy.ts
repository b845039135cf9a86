import { type CapturePolicy as CapturePolicyPb, DesiredState, subjects } from '@millwright/proto';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { CapturePolicy, CapturePolicySource } from '../../capture/policy.js';

export interface KvCapturePolicyDeps {
  /** Current connection; throws while offline (the watch retries). */
  nc: () => NatsConnection;
  siteId: string;
  agentId: string;
  onError: (err: unknown) => void;
  /** @default 2000 */
  retryMs?: number;
}

/** Maps DesiredState.capture; an absent message means "no policy in the desired state". */
export function capturePolicyFromProto(p: CapturePolicyPb | undefined): CapturePolicy | undefined {
  if (!p) return undefined;
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

/**
 * Follows the capture policy in this agent's own desired-state key (KV `mw_desired`, the only key it
 * may read). A second, independent watch beside the update manager's: the capture policy changes
 * without a model switch and must not wait for one. Undecodable values are ignored (the update
 * manager reports them).
 */
export class KvCapturePolicySource implements CapturePolicySource {
  private stopped = false;
  private loop: Promise<void> | undefined;
  private stopWatch: (() => void) | undefined;
  private lastRevision = 0;

  constructor(private readonly deps: KvCapturePolicyDeps) {}

  async start(onPolicy: (p: CapturePolicy | undefined) => void): Promise<void> {
    this.loop = this.run(onPolicy);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopWatch?.();
    await this.loop;
  }

  private async run(onPolicy: (p: CapturePolicy | undefined) => void): Promise<void> {
    const key = subjects.agentKey(this.deps.siteId, this.deps.agentId);
    while (!this.stopped) {
      try {
        await this.watchOnce(key, onPolicy);
      } catch (err) {
        if (this.stopped) return;
        this.deps.onError(err);
      }
      if (!this.stopped) await new Promise((r) => setTimeout(r, this.deps.retryMs ?? 2000));
    }
  }

  private async watchOnce(key: string, onPolicy: (p: CapturePolicy | undefined) => void): Promise<void> {
    const kv = await new Kvm(this.deps.nc()).open(subjects.KV.desired, { allow_direct: true });
    const resume = this.lastRevision > 0 ? { resumeFromRevision: this.lastRevision } : {};
    const watch = await kv.watch({ key, ignoreDeletes: true, ...resume });
    this.stopWatch = () => watch.stop();
    if (this.stopped) watch.stop();
    for await (const e of watch) {
      this.lastRevision = e.revision;
      if (e.operation !== 'PUT' || e.value.length === 0) continue;
      try {
        onPolicy(capturePolicyFromProto(DesiredState.decode(e.value).capture));
      } catch {
        // Not a DesiredState: the update manager's watch reports it.
      }
    }
  }
}
