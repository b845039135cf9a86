import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ConfigOverlayApplier } from './applier.js';
import type { HotConfig } from './overlay.js';

const log = pino({ level: 'silent' });

async function make(dataDir?: string) {
  const dir = dataDir ?? (await mkdtemp(join(tmpdir(), 'mw-overlay-')));
  const applier = new ConfigOverlayApplier({
    base: { dataDir: dir, alerts: { holdOffS: 600, resolveAfterNormal: 5 } },
    log,
  });
  await applier.load();
  const seen: HotConfig[] = [];
  applier.subscribe((c) => seen.push(c));
  return { dir, applier, seen };
}

describe('config overlay applier', () => {
  it('applies an overlay, tells subscribers and keeps it across a restart', async () => {
    const a = await make();
    expect(a.applier.generation()).toBe(0);
    expect(a.seen).toEqual([{ alerts: { holdOffS: 600, resolveAfterNormal: 5 } }]);
    expect((await a.applier.apply(7, { alerts: { holdOffS: 30, resolveAfterNormal: 2 } })).ok).toBe(true);
    expect(a.applier.generation()).toBe(7);
    expect(a.seen.at(-1)).toEqual({ alerts: { holdOffS: 30, resolveAfterNormal: 2 } });

    const restarted = await make(a.dir);
    expect(restarted.applier.generation()).toBe(7);
    expect(restarted.seen).toEqual([{ alerts: { holdOffS: 30, resolveAfterNormal: 2 } }]);
  });

  it('refuses an invalid overlay and keeps the previous config and generation, on disk too', async () => {
    const a = await make();
    await a.applier.apply(3, { alerts: { holdOffS: 30 } });
    const r = await a.applier.apply(4, { alerts: { holdOffS: -5 } });
    expect(r.ok).toBe(false);
    expect(a.applier.generation()).toBe(3);
    expect(a.applier.current().alerts.holdOffS).toBe(30);
    expect(a.seen).toHaveLength(2);
    const restarted = await make(a.dir);
    expect(restarted.applier.generation()).toBe(3);
    expect(restarted.applier.current().alerts.holdOffS).toBe(30);
  });

  it('goes back to the file config when a later desired state carries no config', async () => {
    const a = await make();
    await a.applier.apply(1, { alerts: { holdOffS: 30 } });
    await a.applier.apply(2, undefined);
    expect(a.applier.generation()).toBe(2);
    expect(a.seen.at(-1)).toEqual({ alerts: { holdOffS: 600, resolveAfterNormal: 5 } });
  });

  it('drops a persisted overlay that no longer validates instead of failing to start', async () => {
    const a = await make();
    await a.applier.apply(5, { alerts: { holdOffS: 30 } });
    const file = join(a.dir, 'config', 'overlay.json');
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ generation: 5, overlay: { alerts: { holdOffS: 30 } } });
    await writeFile(file, JSON.stringify({ generation: 5, overlay: { alerts: { bogus: 1 } } }));
    const restarted = await make(a.dir);
    expect(restarted.applier.generation()).toBe(0);
    expect(restarted.applier.current().alerts.holdOffS).toBe(600);
  });
});
