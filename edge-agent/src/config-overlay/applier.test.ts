import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { CapturePolicy } from '../capture/policy.js';
import { AgentConfigSchema } from '../config.js';
import { ConfigOverlayApplier } from './applier.js';
import type { HotConfig } from './overlay.js';

const log = pino({ level: 'silent' });

const POLICY: CapturePolicy = {
  enabled: true,
  uncertain: false,
  alerts: true,
  randomRate: 0.5,
  aroundLabelS: 0,
  includeRaw: false,
  includeFeatures: true,
  maxSamplesPerHour: 0,
  maxBytesPerHour: 0,
};

async function make(dataDir?: string, refuse?: (c: HotConfig) => string | undefined) {
  const dir = dataDir ?? (await mkdtemp(join(tmpdir(), 'mw-overlay-')));
  const base = AgentConfigSchema.parse({ agentId: 'a1', siteId: 's1', dataDir: dir, alerts: { holdOffS: 600 } });
  const applier = new ConfigOverlayApplier({ base, log });
  await applier.load();
  const seen: HotConfig[] = [];
  const checked: HotConfig[] = [];
  applier.subscribe((c) => {
    checked.push(c);
    const why = refuse?.(c);
    if (why) throw new Error(why);
    return () => seen.push(c);
  });
  return { dir, applier, seen, checked };
}

describe('config overlay applier', () => {
  it('applies the config and capture policy, tells targets and keeps both across a restart', async () => {
    const a = await make();
    expect(a.applier.generation()).toBe(0);
    expect(a.seen.map((c) => c.alerts)).toEqual([{ holdOffS: 600, resolveAfterNormal: 5 }]);
    const config = { alerts: { holdOffS: 30 }, cleaning: { defaults: { hampel: { k: 4 } } } };
    expect(await a.applier.apply(7, { config, capture: POLICY })).toEqual({ ok: true });
    expect(a.applier.generation()).toBe(7);
    expect(a.seen.at(-1)).toMatchObject({
      alerts: { holdOffS: 30, resolveAfterNormal: 5 },
      cleaning: { defaults: { hampel: { k: 4 } } },
      capturePolicy: POLICY,
    });

    const restarted = await make(a.dir);
    expect(restarted.applier.generation()).toBe(7);
    expect(restarted.seen).toEqual([a.seen.at(-1)]);
  });

  it('refuses an invalid overlay and keeps the previous config and generation, on disk too', async () => {
    const a = await make();
    await a.applier.apply(3, { config: { alerts: { holdOffS: 30 } } });
    const r = await a.applier.apply(4, { config: { alerts: { holdOffS: -5 } } });
    expect(r.ok).toBe(false);
    expect(a.applier.generation()).toBe(3);
    expect(a.applier.current().alerts.holdOffS).toBe(30);
    expect(a.seen).toHaveLength(2);
    const restarted = await make(a.dir);
    expect(restarted.applier.generation()).toBe(3);
    expect(restarted.applier.current().alerts.holdOffS).toBe(30);
  });

  it('refuses a config a target cannot run, before any target applies it or anything is persisted', async () => {
    const a = await make(undefined, (c) => (c.cleaning.defaults.hampel?.k === 99 ? 'k 99 does not fit' : undefined));
    const others: HotConfig[] = [];
    a.applier.subscribe((c) => () => others.push(c));
    await a.applier.apply(2, { config: { alerts: { holdOffS: 20 } } });
    const r = await a.applier.apply(3, { config: { cleaning: { defaults: { hampel: { k: 99 } } } } });
    expect(r).toEqual({ ok: false, reason: 'config does not fit this agent: k 99 does not fit' });
    expect(a.checked.at(-1)!.cleaning.defaults.hampel?.k).toBe(99);
    expect(a.seen.at(-1)!.alerts.holdOffS).toBe(20);
    expect(others.at(-1)!.cleaning.defaults.hampel?.k).toBe(6);
    expect(a.applier.generation()).toBe(2);
    expect((await make(a.dir)).applier.generation()).toBe(2);
  });

  it('fails a generation a target throws on while applying it, putting every target back on the previous one', async () => {
    const a = await make();
    const later: HotConfig[] = [];
    a.applier.subscribe((c) => () => {
      if (c.alerts.holdOffS === 45) throw new Error('swap broke');
      later.push(c);
    });
    await a.applier.apply(2, { config: { alerts: { holdOffS: 20 } } });
    const r = await a.applier.apply(3, { config: { alerts: { holdOffS: 45 } } });
    expect(r).toEqual({ ok: false, reason: 'config could not be applied: swap broke' });
    expect(a.applier.generation()).toBe(2);
    expect(a.applier.current().alerts.holdOffS).toBe(20);
    // The first target had taken generation 3 before the second one threw: it is back on 2.
    expect(a.seen.map((c) => c.alerts.holdOffS)).toEqual([600, 20, 45, 20]);
    expect(later.at(-1)!.alerts.holdOffS).toBe(20);
    expect((await make(a.dir)).applier.generation()).toBe(2);
    expect(await a.applier.apply(4, { config: { alerts: { holdOffS: 50 } } })).toEqual({ ok: true });
    expect(later.at(-1)!.alerts.holdOffS).toBe(50);
  });

  it('fails a generation it cannot persist and puts the targets back, so what runs matches what a restart runs', async () => {
    const b = await make(await mkdtemp(join(tmpdir(), 'mw-overlay-')));
    await writeFile(join(b.dir, 'config'), 'not a directory');
    const r = await b.applier.apply(1, { config: { alerts: { holdOffS: 30 } } });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(/^config could not be applied: /);
    expect(b.applier.generation()).toBe(0);
    expect(b.seen.map((c) => c.alerts.holdOffS)).toEqual([600, 30, 600]);
  });

  it('goes back to the file config when a later desired state carries no config or policy', async () => {
    const a = await make();
    await a.applier.apply(1, { config: { alerts: { holdOffS: 30 } }, capture: POLICY });
    await a.applier.apply(2, {});
    expect(a.applier.generation()).toBe(2);
    expect(a.seen.at(-1)!.alerts).toEqual({ holdOffS: 600, resolveAfterNormal: 5 });
    expect(a.seen.at(-1)!.capturePolicy).toBeUndefined();
  });

  it('drops a persisted overlay that no longer validates instead of failing to start', async () => {
    const a = await make();
    await a.applier.apply(5, { config: { alerts: { holdOffS: 30 } } });
    const file = join(a.dir, 'config', 'overlay.json');
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ generation: 5, overlay: { alerts: { holdOffS: 30 } } });
    await writeFile(file, JSON.stringify({ generation: 5, overlay: { alerts: { bogus: 1 } } }));
    const restarted = await make(a.dir);
    expect(restarted.applier.generation()).toBe(0);
    expect(restarted.applier.current().alerts.holdOffS).toBe(600);
  });
});
