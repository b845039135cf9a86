import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { writeFileAtomic } from '../fs-atomic.js';
import { type ConfigOverlay, checkOverlay, effectiveHotConfig, type HotConfig, type OverlayCheck } from './overlay.js';

/** What the update manager needs: apply a desired state's config, and the generation in effect. */
export interface ConfigOverlayPort {
  /**
   * Validates and applies `raw` (undefined: no overlay, back to the file config) as generation
   * `generation`, persisting it first. A refused overlay leaves the previous config in effect.
   */
  apply(generation: number, raw: Record<string, unknown> | undefined): Promise<OverlayCheck>;
  /** Desired-state generation whose config is in effect; 0 before any. */
  generation(): number;
}

interface Persisted {
  generation: number;
  overlay: ConfigOverlay;
}

export interface ConfigOverlayDeps {
  /** The file/env config (an AgentConfig fits). */
  base: Readonly<HotConfig & { dataDir: string }>;
  log: Logger;
}

/**
 * Keeps the applied overlay under `dataDir/config/overlay.json`, so an agent restarted offline runs
 * with the last config it was given, and tells subscribers (alert policy) whenever it changes.
 */
export class ConfigOverlayApplier implements ConfigOverlayPort {
  private state: Persisted = { generation: 0, overlay: {} };
  private readonly listeners: ((c: HotConfig) => void)[] = [];
  private readonly path: string;

  constructor(private readonly deps: ConfigOverlayDeps) {
    this.path = join(deps.base.dataDir, 'config', 'overlay.json');
  }

  /** Loads the persisted overlay; one that no longer validates (agent upgraded) is dropped. */
  async load(): Promise<void> {
    const text = await readFile(this.path, 'utf8').catch(() => undefined);
    if (text === undefined) return;
    const p = parsePersisted(text);
    if (!p) return this.deps.log.warn({ path: this.path }, 'config.overlay.unreadable');
    const check = checkOverlay(p.overlay);
    if (!check.ok) return this.deps.log.warn({ reason: check.reason }, 'config.overlay.dropped');
    this.state = { generation: p.generation, overlay: check.overlay };
    this.deps.log.info({ generation: p.generation }, 'config.overlay.restored');
  }

  async apply(generation: number, raw: Record<string, unknown> | undefined): Promise<OverlayCheck> {
    const check = checkOverlay(raw);
    if (!check.ok) {
      this.deps.log.warn({ generation, reason: check.reason }, 'config.overlay.refused');
      return check;
    }
    const next = { generation, overlay: check.overlay };
    await mkdir(dirname(this.path), { recursive: true });
    await writeFileAtomic(this.path, `${JSON.stringify(next)}\n`);
    this.state = next;
    const hot = this.current();
    for (const l of this.listeners) l(hot);
    this.deps.log.info({ generation, ...hot }, 'config.overlay.applied');
    return check;
  }

  generation(): number {
    return this.state.generation;
  }

  current(): HotConfig {
    return effectiveHotConfig(this.deps.base, this.state.overlay);
  }

  /** Calls `listener` now with the current config and after every applied change. */
  subscribe(listener: (c: HotConfig) => void): void {
    this.listeners.push(listener);
    listener(this.current());
  }
}

function parsePersisted(text: string): Persisted | undefined {
  try {
    const v = JSON.parse(text) as Partial<Persisted>;
    return Number.isSafeInteger(v.generation) ? { generation: v.generation!, overlay: v.overlay ?? {} } : undefined;
  } catch {
    return undefined;
  }
}
