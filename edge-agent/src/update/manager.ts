import type { ConfigOverlayPort } from '../config-overlay/applier.js';
import { noUpdateMetrics, type UpdateMetrics } from './metrics.js';
import type { CurrentPointer, VersionRef } from './model-store.js';
import type { ConditionSource, DesiredStateSource, StateReporter } from './ports.js';
import { type Candidate, type PrepareDeps, prepareVersion, VersionRejected } from './prepare.js';
import { rejectionFor, rejectionOf } from './rejections.js';
import { adoptResignatures } from './resign.js';
import { restoreModels } from './restore.js';
import { RevocationWatch, refOf } from './revocation.js';
import { ModelSlots } from './slots.js';
import { waitForSwitch } from './switch-policy.js';
import type { TrustUpdatePort } from './trust-keeper.js';
import type { DesiredArtifact, DesiredUpdate, UpdatePhase } from './types.js';
import type { RunningVersion } from './verify.js';
import { Watchdog } from './watchdog.js';

export interface UpdateManagerDeps extends PrepareDeps {
  desired: DesiredStateSource;
  reporter: StateReporter;
  conditions: ConditionSource;
  /** The slots the inference pipeline reads; a fresh set when omitted. */
  slots?: ModelSlots;
  /** Applies the desired state's config overlay; without it the config is ignored. */
  config?: ConfigOverlayPort;
  /** Applies the desired state's signed trust bundle; without it bundles are ignored. */
  trustUpdates?: TrustUpdatePort;
  /** @default noUpdateMetrics */
  metrics?: UpdateMetrics;
}

class Superseded extends Error {}

/**
 * The edge half of rollouts: follows this agent's desired state, takes each new version through
 * DOWNLOADING → VERIFYING → SELF_TESTING → WAITING_WINDOW → ACTIVE in a standby slot, switches
 * atomically, and watches the new version, rolling back on its own (offline too) when it misbehaves.
 * The active model never stops serving while any of this happens.
 */
export class UpdateManager {
  readonly slots: ModelSlots;
  private pointer!: CurrentPointer;
  private latest: DesiredUpdate | undefined;
  private handled = -1;
  private inFlight: { generation: number; abort: AbortController } | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private stopped = false;
  private watchdog: Watchdog | undefined;
  private pointerWrites: Promise<void> = Promise.resolve();
  private shadowRef: VersionRef | undefined;
  private readonly metrics: UpdateMetrics;
  private readonly revocation: RevocationWatch;
  /** The config of this generation was refused; its model part went ahead all the same. */
  private configError: { generation: number; reason: string } | undefined;

  constructor(private readonly deps: UpdateManagerDeps) {
    this.slots = deps.slots ?? new ModelSlots();
    this.metrics = deps.metrics ?? noUpdateMetrics;
    this.revocation = new RevocationWatch({ trust: deps.trust, log: deps.log, metrics: this.metrics });
  }

  /** Resumes the last good model from disk (no network needed), then follows the desired state. */
  async start(): Promise<void> {
    await this.restore();
    this.loop = this.run();
    await this.deps.desired.start((d) => this.onDesired(d));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.inFlight?.abort.abort(new Superseded('stopping'));
    this.wake?.();
    await this.deps.desired.stop();
    await this.loop;
    this.watchdog?.cancel();
    this.slots.setObserver(undefined);
    await this.pointerWrites;
    for (const m of this.slots.clear()) m.dispose();
  }

  private onDesired(d: DesiredUpdate): void {
    if (this.latest && d.generation <= this.latest.generation) return;
    this.latest = d;
    if (this.inFlight && this.inFlight.generation < d.generation) {
      this.inFlight.abort.abort(new Superseded(`generation ${d.generation} supersedes ${this.inFlight.generation}`));
    }
    this.wake?.();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const d = this.latest;
      if (!d || d.generation <= this.handled) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        continue;
      }
      await this.reconcileOnce(d);
    }
  }

  private async reconcileOnce(d: DesiredUpdate): Promise<void> {
    const abort = new AbortController();
    this.inFlight = { generation: d.generation, abort };
    try {
      await this.reconcile(d, abort.signal);
      this.handled = d.generation;
    } catch (err) {
      if (!abort.signal.aborted) {
        this.deps.log.error({ err, generation: d.generation }, 'update.reconcile.failed');
        this.handled = d.generation;
      }
    } finally {
      this.inFlight = undefined;
    }
  }

  private async reconcile(d: DesiredUpdate, signal: AbortSignal): Promise<void> {
    if (!(await this.applyTrust(d))) return;
    await this.applyConfig(d);
    const blocked = this.deps.trustUpdates?.blocked();
    this.metrics.trustBlocked(blocked !== undefined);
    if (blocked) return this.refuseWhileBlocked(d, blocked);
    await this.recheckSignatures(d);
    await this.reconcileModel(d, signal);
    await this.reconcileShadow(d, signal);
  }

  /**
   * The trust bundle goes before everything (the model may be signed by a key it introduces). A refused
   * bundle (bad or unknown signature) fails the generation, keeping the trust set, config and model in
   * effect; a stale one (older than the set in effect) is ignored and the generation goes on.
   */
  private async applyTrust(d: DesiredUpdate): Promise<boolean> {
    const port = this.deps.trustUpdates;
    if (!port || !d.trust) return true;
    const outcome = await port.apply(d.trust);
    if (outcome.ok) {
      this.metrics.trustBundle(outcome.stale ? 'stale' : outcome.changed ? 'accepted' : 'unchanged');
      return true;
    }
    this.metrics.trustBundle('refused');
    const active = this.slots.activeVersion();
    this.report(d, 'failed', d.model?.version ?? active, `trust bundle refused: ${outcome.reason}`, active);
    return false;
  }

  /**
   * A refused config keeps the previous one in effect and is reported with every report of this
   * generation (`configError`), but does not hold back the model: a bad layer in the desired state must
   * not stop an agent from taking model updates (or rollbacks).
   */
  private async applyConfig(d: DesiredUpdate): Promise<void> {
    const port = this.deps.config;
    if (port && port.generation() !== d.generation) {
      const check = await port.apply(d.generation, d);
      this.configError = check.ok ? undefined : { generation: d.generation, reason: check.reason };
    }
    this.metrics.configRefused(this.configError?.generation === d.generation);
  }

  /** Fail closed while what this agent revoked may be unknown: nothing new is installed, the active model serves. */
  private refuseWhileBlocked(d: DesiredUpdate, reason: string): void {
    const active = this.slots.activeVersion();
    this.deps.log.error({ reason, generation: d.generation, active }, 'update.blocked');
    const why = `${reason}: refusing model installs and switches until a trust bundle is accepted; ${active || 'no model'} keeps serving`;
    this.report(d, 'failed', d.model?.version ?? active, why, active);
  }

  /**
   * After a key change: adopt every re-signature the desired state carries for the loaded versions, then
   * take out of service the fallback and shadow that only a revoked key signed (the watchdog then has no
   * fallback) and flag an active model in that state, which keeps serving (docs/SECURITY.md).
   */
  private async recheckSignatures(d: DesiredUpdate): Promise<void> {
    const loaded = [refOf(this.slots.active()), refOf(this.slots.previous()), this.shadowRef];
    const adopted = await adoptResignatures(
      this.deps,
      d,
      loaded.filter((r): r is VersionRef => !!r),
    );
    for (const { ref, keyId } of adopted) this.revocation.signedBy(ref, keyId);
    await this.dropRevokedFallback();
    this.dropRevokedShadow();
    this.revocation.checkActive(refOf(this.slots.active()));
  }

  private async dropRevokedFallback(): Promise<void> {
    const r = this.revocation.revoked(refOf(this.slots.previous()));
    if (!r) return;
    this.slots.dropPrevious()?.dispose();
    this.disarmWatchdog(`fallback ${r.version} is signed only by revoked key ${r.keyId}`);
    this.metrics.revokedDropped('previous');
    this.deps.log.warn({ version: r.version, keyId: r.keyId }, 'update.fallback.dropped');
    await this.setPointer({ ...this.pointer, previous: undefined });
  }

  private dropRevokedShadow(): void {
    const r = this.revocation.revoked(this.shadowRef);
    if (!r) return;
    this.slots.setShadow(undefined)?.dispose();
    this.shadowRef = undefined;
    this.metrics.revokedDropped('shadow');
    this.deps.log.warn({ version: r.version, keyId: r.keyId }, 'update.shadow.dropped');
  }

  private disarmWatchdog(why: string): void {
    const dog = this.watchdog;
    this.watchdog = undefined;
    if (!dog || dog.done) return;
    dog.cancel();
    this.slots.setObserver(undefined);
    this.deps.log.error({ version: dog.version, why }, 'update.watchdog.disarmed');
  }

  private async reconcileModel(d: DesiredUpdate, signal: AbortSignal): Promise<void> {
    const a = d.model;
    const active = this.slots.activeVersion();
    const trouble = this.trouble(d);
    if (!a) {
      if (trouble) this.report(d, 'failed', active, trouble, active);
      else this.report(d, 'idle', '', 'desired state names no model', active);
    } else if (this.isActive(a)) {
      const previous = this.pointer.previous?.version ?? '';
      if (trouble) this.report(d, 'failed', a.version, trouble, previous);
      else this.report(d, 'active', a.version, 'already active', previous);
    } else {
      const rejected = rejectionFor(this.deps, this.pointer.rejected, d, a);
      if (rejected) this.report(d, 'rolled_back', a.version, rejected.reason, active);
      else await this.update(d, a, signal);
    }
  }

  /** What is wrong with this generation when the model itself has nothing to do: reported as FAILED. */
  private trouble(d: DesiredUpdate): string | undefined {
    const config = this.configError?.generation === d.generation && `config refused: ${this.configError.reason}`;
    const parts = [config, this.revocation.activeReason()].filter((p): p is string => !!p);
    return parts.length > 0 ? parts.join('; ') : undefined;
  }

  private async update(d: DesiredUpdate, a: DesiredArtifact, signal: AbortSignal): Promise<void> {
    const cand = await this.prepare(d, a, this.running(), signal);
    if (!cand) return;
    try {
      const { clock, conditions, options } = this.deps;
      const onWaiting = (reason: string) =>
        this.report(d, 'waiting_window', a.version, reason, this.slots.activeVersion());
      await waitForSwitch(d.rules, { clock, conditions, switchCheckMs: options.switchCheckMs }, onWaiting, signal);
    } catch (err) {
      cand.model.dispose();
      throw err;
    }
    await this.activate(d, a, cand);
  }

  private async prepare(
    d: DesiredUpdate,
    a: DesiredArtifact,
    running: RunningVersion | undefined,
    signal: AbortSignal,
  ) {
    const progress = (phase: UpdatePhase, reason: string) =>
      this.report(d, phase, a.version, reason, this.slots.activeVersion());
    try {
      return await prepareVersion(this.deps, a, running, progress, signal);
    } catch (err) {
      if (!(err instanceof VersionRejected)) throw err;
      this.deps.log.warn({ model: a.model, version: a.version, reason: err.message }, 'update.version.refused');
      progress('failed', err.message);
      return undefined;
    }
  }

  /**
   * Persists the new pointer first (a crash then resumes the verified version), then swaps. A model
   * signed only by a revoked key is not kept as the fallback.
   */
  private async activate(d: DesiredUpdate, a: DesiredArtifact, cand: Candidate): Promise<void> {
    const keyId = a.signature?.keyId ?? '';
    const before = refOf(this.slots.active());
    const fallback = before && !this.revocation.revoked(before) ? before : undefined;
    await this.setPointer({
      ...this.pointer,
      active: cand.ref,
      previous: fallback,
      generation: d.generation,
      rolloutId: d.rolloutId,
    });
    this.watchdog?.cancel();
    this.revocation.signedBy(cand.ref, keyId);
    this.slots.promote(cand.model)?.dispose();
    if (!fallback) this.slots.dropPrevious()?.dispose();
    this.revocation.checkActive(refOf(this.slots.active()));
    this.deps.log.info(
      { model: cand.ref.model, version: cand.ref.version, previous: before?.version },
      'update.switched',
    );
    this.report(d, 'active', cand.ref.version, 'switched', before?.version ?? '');
    if (fallback) this.arm(d, a, cand.ref, fallback);
    else if (before) this.deps.log.warn({ version: before.version }, 'update.fallback.not_kept_revoked_key');
    await this.prune();
  }

  private arm(d: DesiredUpdate, a: DesiredArtifact, ref: VersionRef, fallback: VersionRef): void {
    const { rules } = d;
    const { options, clock } = this.deps;
    const bounds = {
      periodMs: (rules.watchdogS || options.watchdogDefaultS) * 1000,
      maxLatencyUs: rules.maxLatencyUs,
      maxAlertRate: rules.maxAlertRate,
      minSamples: options.watchdogMinSamples,
    };
    const dog = new Watchdog(ref.version, bounds, clock.now(), {
      now: clock.now,
      onTrip: (reason) => this.rollBack(d, a, ref, fallback, reason),
      onPass: () => this.deps.log.info({ version: ref.version }, 'update.watchdog.passed'),
    });
    this.watchdog = dog;
    this.slots.setObserver(dog);
  }

  /**
   * Runs inside `observe` on the hot path: the swap is synchronous, persisting and reporting follow.
   * Never onto a fallback that only a revoked key signed (it should have been dropped already).
   */
  private rollBack(d: DesiredUpdate, a: DesiredArtifact, bad: VersionRef, fallback: VersionRef, reason: string): void {
    this.slots.setObserver(undefined);
    this.watchdog = undefined;
    const revoked = this.revocation.revoked(fallback);
    if (revoked) {
      this.slots.dropPrevious()?.dispose();
      const why = `no rollback: fallback ${fallback.version} is signed only by revoked key ${revoked.keyId}`;
      this.deps.log.error({ version: bad.version, reason, why }, 'update.rollback.impossible');
      this.report(d, 'failed', bad.version, `watchdog: ${reason}; ${why}`, fallback.version);
      return;
    }
    const removed = this.slots.revert();
    this.revocation.checkActive(refOf(this.slots.active()));
    this.deps.log.warn({ version: bad.version, fallback: fallback.version, reason }, 'update.rolled_back');
    this.report(d, 'rolled_back', bad.version, reason, fallback.version);
    const rejected = [...this.pointer.rejected, rejectionOf(d, a, reason)];
    const next = { ...this.pointer, active: fallback, previous: undefined, rejected };
    this.setPointer(next).then(
      () => removed?.dispose(),
      (err: unknown) => this.deps.log.error({ err }, 'update.rollback.persist_failed'),
    );
  }

  private async reconcileShadow(d: DesiredUpdate, signal: AbortSignal): Promise<void> {
    const s = d.shadow;
    if (!s) {
      this.slots.setShadow(undefined)?.dispose();
      this.shadowRef = undefined;
      return;
    }
    if (this.shadowRef && sameRef(this.shadowRef, s)) return;
    const cand = await this.prepare(d, s, undefined, signal);
    if (!cand) return;
    this.slots.setShadow(cand.model)?.dispose();
    this.shadowRef = cand.ref;
    this.revocation.signedBy(cand.ref, s.signature?.keyId ?? '');
    this.report(
      d,
      'shadowing',
      s.version,
      `scoring beside ${this.slots.activeVersion() || 'no model'}`,
      this.slots.activeVersion(),
    );
  }

  private async restore(): Promise<void> {
    this.pointer = await this.deps.store.readPointer();
    const { active, previous } = await restoreModels(this.deps, this.pointer);
    for (const c of [previous, active]) {
      if (!c) continue;
      this.slots.promote(c.model);
      this.revocation.signedBy(c.ref, c.keyId);
    }
    if (!active && previous) await this.setPointer({ ...this.pointer, active: previous.ref, previous: undefined });
    this.revocation.checkActive(refOf(this.slots.active()));
    const version = this.slots.activeVersion();
    if (version) this.deps.log.info({ version, previous: previous?.ref.version }, 'update.restored');
  }

  /** Writes are serialised so the file always ends at the latest pointer, whichever path changed it. */
  private setPointer(next: CurrentPointer): Promise<void> {
    this.pointer = next;
    const write = this.pointerWrites.then(() => this.deps.store.writePointer(next));
    this.pointerWrites = write.catch(() => undefined);
    return write;
  }

  private async prune(): Promise<void> {
    const keep = [this.pointer.active, this.pointer.previous, this.shadowRef].filter((r): r is VersionRef => !!r);
    this.revocation.retain([refOf(this.slots.active()), refOf(this.slots.previous()), this.shadowRef]);
    await this.deps.store.prune(keep).catch((err: unknown) => this.deps.log.warn({ err }, 'update.prune.failed'));
  }

  private isActive(a: DesiredArtifact): boolean {
    const m = this.slots.active()?.manifest;
    return m !== undefined && m.model === a.model && m.version === a.version;
  }

  private running(): RunningVersion | undefined {
    const m = this.slots.active()?.manifest;
    return m && { model: m.model, version: m.version, sequence: m.sequence };
  }

  private report(d: DesiredUpdate, phase: UpdatePhase, version: string, reason: string, previousVersion: string): void {
    const configError = this.configError?.generation === d.generation ? this.configError.reason : undefined;
    this.deps.reporter.report({
      phase,
      version,
      reason,
      previousVersion,
      desiredGeneration: d.generation,
      rolloutId: d.rolloutId,
      atMs: this.deps.clock.now(),
      configGeneration: this.deps.config?.generation() ?? 0,
      ...(configError !== undefined ? { configError } : {}),
    });
  }
}

function sameRef(a: VersionRef, b: VersionRef): boolean {
  return a.model === b.model && a.version === b.version;
}
