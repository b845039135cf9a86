import type { ConfigOverlayPort } from '../config-overlay/applier.js';
import type { CurrentPointer, VersionRef } from './model-store.js';
import type { ConditionSource, DesiredStateSource, StateReporter } from './ports.js';
import { type Candidate, type PrepareDeps, prepareVersion, restoreVersion, VersionRejected } from './prepare.js';
import { adoptSignature } from './resign.js';
import { ModelSlots } from './slots.js';
import { evaluateSwitch } from './switch-policy.js';
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

  constructor(private readonly deps: UpdateManagerDeps) {
    this.slots = deps.slots ?? new ModelSlots();
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
    if (!(await this.applyConfig(d))) return;
    const a = d.model;
    if (!a) {
      this.report(d, 'idle', '', 'desired state names no model', this.slots.activeVersion());
    } else if (this.isActive(a)) {
      await adoptSignature(this.deps, a);
      this.report(d, 'active', a.version, 'already active', this.pointer.previous?.version ?? '');
    } else {
      const rejected = this.pointer.rejected.find((r) => sameRef(r, a) && r.generation === d.generation);
      if (rejected) this.report(d, 'rolled_back', a.version, rejected.reason, this.slots.activeVersion());
      else await this.update(d, a, signal);
    }
    await this.reconcileShadow(d, signal);
  }

  /**
   * The trust bundle goes before everything (the model may be signed by a key it introduces); a refused
   * bundle fails the generation like a refused config, keeping the trust set, config and model in effect.
   */
  private async applyTrust(d: DesiredUpdate): Promise<boolean> {
    const port = this.deps.trustUpdates;
    if (!port || !d.trust) return true;
    const outcome = await port.apply(d.trust);
    if (outcome.ok) return true;
    const active = this.slots.activeVersion();
    this.report(d, 'failed', d.model?.version ?? active, `trust bundle refused: ${outcome.reason}`, active);
    return false;
  }

  /**
   * The config goes first and the desired state is taken as a whole: a refused config fails the
   * generation (the previous config stays) so the rollout sees FAILED rather than a half-applied state.
   */
  private async applyConfig(d: DesiredUpdate): Promise<boolean> {
    const port = this.deps.config;
    if (!port || port.generation() === d.generation) return true;
    const check = await port.apply(d.generation, d);
    if (check.ok) return true;
    const active = this.slots.activeVersion();
    this.report(d, 'failed', d.model?.version ?? active, `config refused: ${check.reason}`, active);
    return false;
  }

  private async update(d: DesiredUpdate, a: DesiredArtifact, signal: AbortSignal): Promise<void> {
    const cand = await this.prepare(d, a, this.running(), signal);
    if (!cand) return;
    try {
      await this.waitForSwitch(d, a, signal);
    } catch (err) {
      cand.model.dispose();
      throw err;
    }
    await this.activate(d, cand);
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

  private async waitForSwitch(d: DesiredUpdate, a: DesiredArtifact, signal: AbortSignal): Promise<void> {
    let last = '';
    for (;;) {
      const verdict = await evaluateSwitch(d.rules, this.deps.clock.now(), this.deps.conditions, signal);
      if (verdict.allowed) return;
      if (verdict.reason !== last)
        this.report(d, 'waiting_window', a.version, verdict.reason, this.slots.activeVersion());
      last = verdict.reason;
      await this.deps.clock.sleep(this.deps.options.switchCheckMs, signal);
    }
  }

  /** Persists the new pointer first (a crash then resumes the verified version), then swaps. */
  private async activate(d: DesiredUpdate, cand: Candidate): Promise<void> {
    const before = this.pointer.active;
    await this.setPointer({
      ...this.pointer,
      active: cand.ref,
      previous: before,
      generation: d.generation,
      rolloutId: d.rolloutId,
    });
    this.watchdog?.cancel();
    this.slots.promote(cand.model)?.dispose();
    this.deps.log.info(
      { model: cand.ref.model, version: cand.ref.version, previous: before?.version },
      'update.switched',
    );
    this.report(d, 'active', cand.ref.version, 'switched', before?.version ?? '');
    if (before) this.arm(d, cand.ref, before);
    await this.prune();
  }

  private arm(d: DesiredUpdate, ref: VersionRef, fallback: VersionRef): void {
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
      onTrip: (reason) => this.rollBack(d, ref, fallback, reason),
      onPass: () => this.deps.log.info({ version: ref.version }, 'update.watchdog.passed'),
    });
    this.watchdog = dog;
    this.slots.setObserver(dog);
  }

  /** Runs inside `observe` on the hot path: the swap is synchronous, persisting and reporting follow. */
  private rollBack(d: DesiredUpdate, bad: VersionRef, fallback: VersionRef, reason: string): void {
    const removed = this.slots.revert();
    this.slots.setObserver(undefined);
    this.watchdog = undefined;
    this.deps.log.warn({ version: bad.version, fallback: fallback.version, reason }, 'update.rolled_back');
    this.report(d, 'rolled_back', bad.version, reason, fallback.version);
    const rejected = [...this.pointer.rejected, { ...bad, generation: d.generation, reason }];
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
    const { active, previous } = this.pointer;
    const prev = previous ? await this.tryRestore(previous) : undefined;
    const act = active ? await this.tryRestore(active) : undefined;
    if (prev) this.slots.promote(prev.model);
    if (act) this.slots.promote(act.model);
    if (!act && prev) await this.setPointer({ ...this.pointer, active: previous, previous: undefined });
    const version = this.slots.activeVersion();
    if (version) this.deps.log.info({ version, previous: prev?.ref.version }, 'update.restored');
  }

  private async tryRestore(ref: VersionRef): Promise<Candidate | undefined> {
    try {
      return await restoreVersion(this.deps, ref);
    } catch (err) {
      this.deps.log.error({ err, model: ref.model, version: ref.version }, 'update.restore.failed');
      return undefined;
    }
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
    this.deps.reporter.report({
      phase,
      version,
      reason,
      previousVersion,
      desiredGeneration: d.generation,
      rolloutId: d.rolloutId,
      atMs: this.deps.clock.now(),
      configGeneration: this.deps.config?.generation() ?? 0,
    });
  }
}

function sameRef(a: VersionRef, b: VersionRef): boolean {
  return a.model === b.model && a.version === b.version;
}
