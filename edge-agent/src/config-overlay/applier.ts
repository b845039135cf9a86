import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { CapturePolicy } from '../capture/policy.js';
import { writeFileAtomic } from '../fs-atomic.js';
import { baseHotConfig, type ConfigOverlay, checkOverlay, type HotBase, type HotConfig } from './overlay.js';

/** The config-bearing part of a desired state. */
export interface DesiredConfig {
  /** The merged config layers (google.protobuf.Struct as a plain object); absent: the file config. */
  config?: Record<string, unknown>;
  /** `DesiredState.capture` (rules only; limits cannot exceed the agent's caps); absent: the (overlaid) `capture.*` config. */
  capture?: CapturePolicy;
}

export type ApplyResult = { ok: true } | { ok: false; reason: string };

/** What the update manager needs: apply a desired state's config, and the generation in effect. */
export interface ConfigOverlayPort {
  /**
   * Validates and applies the desired state's config as generation `generation`, then persists it;
   * only then is it the generation in effect. A refused config, or one that failed while being
   * applied or persisted, leaves the previous one in effect (everywhere) and its generation.
   */
  apply(generation: number, desired: DesiredConfig): Promise<ApplyResult>;
  /** Desired-state generation whose config is in effect; 0 before any. */
  generation(): number;
}

/**
 * A component that takes hot config: checks `next` against what it runs (throwing an Error whose
 * message says why it does not fit) and returns the function that applies it. Nothing may change
 * before that function runs.
 */
export type HotConfigTarget = (next: HotConfig) => () => void;

interface Persisted {
  generation: number;
  overlay: ConfigOverlay;
  capture?: CapturePolicy;
}

export interface ConfigOverlayDeps {
  /** The file/env config (an AgentConfig fits). */
  base: Readonly<HotBase & { dataDir: string }>;
  log: Logger;
}

/**
 * Keeps the applied config under `dataDir/config/overlay.json`, so an agent restarted offline runs
 * with the last config it was given, and applies each change to its targets in two phases: every
 * target checks it first, then all apply it, so a refusal changes nothing anywhere. Only once every
 * target applied it is it persisted and its generation in effect; a target that throws while
 * applying (a bug) puts every target back on the previous config, which stays in effect.
 */
export class ConfigOverlayApplier implements ConfigOverlayPort {
  private state: Persisted = { generation: 0, overlay: {} };
  private hot: HotConfig;
  private readonly targets: HotConfigTarget[] = [];
  private readonly path: string;

  constructor(private readonly deps: ConfigOverlayDeps) {
    this.path = join(deps.base.dataDir, 'config', 'overlay.json');
    this.hot = baseHotConfig(deps.base);
  }

  /** Loads the persisted config; one that no longer validates (agent upgraded) is dropped. */
  async load(): Promise<void> {
    const text = await readFile(this.path, 'utf8').catch(() => undefined);
    if (text === undefined) return;
    const p = parsePersisted(text);
    if (!p) return this.deps.log.warn({ path: this.path }, 'config.overlay.unreadable');
    const check = checkOverlay(p.overlay, this.deps.base);
    if (!check.ok) return this.deps.log.warn({ reason: check.reason }, 'config.overlay.dropped');
    this.state = p;
    this.hot = withCapture(check.config, p.capture);
    this.deps.log.info({ generation: p.generation }, 'config.overlay.restored');
  }

  async apply(generation: number, desired: DesiredConfig): Promise<ApplyResult> {
    const check = checkOverlay(desired.config, this.deps.base);
    if (!check.ok) return this.refuse(generation, check.reason);
    const hot = withCapture(check.config, desired.capture);
    let commits: (() => void)[];
    try {
      commits = this.targets.map((t) => t(hot));
    } catch (err) {
      return this.refuse(generation, `config does not fit this agent: ${(err as Error).message}`);
    }
    const next: Persisted = {
      generation,
      overlay: check.overlay,
      ...(desired.capture ? { capture: desired.capture } : {}),
    };
    try {
      for (const commit of commits) commit();
      await mkdir(dirname(this.path), { recursive: true });
      await writeFileAtomic(this.path, `${JSON.stringify(next)}\n`);
    } catch (err) {
      this.restore(generation);
      const reason = `config could not be applied: ${(err as Error).message}`;
      this.deps.log.error({ err, generation, inEffect: this.state.generation }, 'config.overlay.failed');
      return { ok: false, reason };
    }
    this.state = next;
    this.hot = hot;
    this.deps.log.info({ generation, overlay: check.overlay, capture: desired.capture }, 'config.overlay.applied');
    return { ok: true };
  }

  generation(): number {
    return this.state.generation;
  }

  current(): HotConfig {
    return this.hot;
  }

  /**
   * Adds a target and applies the current config to it now. A restored config that does not fit
   * (the agent's channels changed across a restart) leaves the target on what it was built with.
   */
  subscribe(target: HotConfigTarget): void {
    this.targets.push(target);
    try {
      target(this.hot)();
    } catch (err) {
      this.deps.log.error({ err, generation: this.state.generation }, 'config.overlay.unusable');
    }
  }

  /**
   * After a failed apply: the config in effect, to every target again. Targets already on it keep
   * what they run (an unchanged cleaner is not swapped); one that cannot take it back is an error a
   * human must look at.
   */
  private restore(failed: number): void {
    for (const target of this.targets) {
      try {
        target(this.hot)();
      } catch (err) {
        this.deps.log.error({ err, generation: this.state.generation, failed }, 'config.overlay.restore_failed');
      }
    }
  }

  private refuse(generation: number, reason: string): ApplyResult {
    this.deps.log.warn({ generation, reason }, 'config.overlay.refused');
    return { ok: false, reason };
  }
}

function withCapture(config: HotConfig, capture: CapturePolicy | undefined): HotConfig {
  return capture ? { ...config, capturePolicy: capture } : config;
}

function parsePersisted(text: string): Persisted | undefined {
  try {
    const v = JSON.parse(text) as Partial<Persisted>;
    if (!Number.isSafeInteger(v.generation)) return undefined;
    return { generation: v.generation!, overlay: v.overlay ?? {}, ...(v.capture ? { capture: v.capture } : {}) };
  } catch {
    return undefined;
  }
}
