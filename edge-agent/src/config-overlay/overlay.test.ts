import { describe, expect, it } from 'vitest';
import { AgentConfigSchema } from '../config.js';
import { baseHotConfig, checkOverlay, type HotConfig } from './overlay.js';

const base = AgentConfigSchema.parse({
  agentId: 'a1',
  siteId: 's1',
  alerts: { holdOffS: 600, resolveAfterNormal: 5, webhookUrl: 'http://127.0.0.1:1/hook' },
  cleaning: {
    defaults: { range: { min: -50 } },
    channels: { 'pump1.temp': { hampel: { halfWidth: 4 }, range: { max: 150 } } },
  },
  capture: { maxSamplesPerHour: 100 },
});

function applied(raw: unknown): HotConfig {
  const r = checkOverlay(raw, base);
  if (!r.ok) throw new Error(r.reason);
  return r.config;
}

function refused(raw: unknown): string {
  const r = checkOverlay(raw, base);
  if (r.ok) throw new Error('expected a refusal');
  return r.reason;
}

describe('config overlay validation', () => {
  it('accepts the hot-reloadable alert keys and lays them over the file config', () => {
    const r = checkOverlay({ alerts: { holdOffS: 30 } }, base);
    expect(r.ok && r.overlay).toEqual({ alerts: { holdOffS: 30 } });
    expect(applied({ alerts: { holdOffS: 30 } }).alerts).toEqual({ holdOffS: 30, resolveAfterNormal: 5 });
  });

  it('treats an absent config as an empty overlay, so the file config applies', () => {
    expect(applied(undefined)).toEqual(baseHotConfig(base));
    expect(applied(undefined).cleaning).toEqual(base.cleaning);
    expect(applied(undefined).capture).toEqual(base.capture);
  });

  it('refuses keys that cannot be hot-applied, naming each', () => {
    const reason = refused({
      alerts: { holdOffS: 30, webhookUrl: 'http://x' },
      buffer: { capacityBytes: 1 },
      sources: [],
      features: { process: { windowSize: 5 } },
    });
    expect(reason).toMatch(/^config key alerts\.webhookUrl, buffer, sources, features is not hot-reloadable/);
    expect(reason).toContain('cleaning.*');
  });

  it("refuses a value the agent's own schema rejects, naming the key", () => {
    expect(refused({ alerts: { resolveAfterNormal: 0.5 } })).toMatch(/^config alerts\.resolveAfterNormal: /);
    expect(refused({ alerts: { holdOffS: '30' } })).toMatch(/^config alerts\.holdOffS: /);
    expect(refused({ cleaning: { defaults: { hampel: { k: -1 } } } })).toMatch(
      /^config cleaning\.defaults\.hampel\.k: /,
    );
    expect(refused({ capture: { randomRate: 2 } })).toMatch(/^config capture\.randomRate: /);
    expect(refused('alerts.holdOffS=30')).toMatch(/^config \(root\)/);
  });

  it('refuses an unknown key inside a hot section, naming its full path', () => {
    expect(refused({ cleaning: { defaults: { hampel: { kk: 3 } } } })).toBe(
      'config key cleaning.defaults.hampel.kk is unknown',
    );
    expect(refused({ capture: { everything: true } })).toBe('config key capture.everything is unknown');
  });

  it('changes the spike limit of every channel that runs on the defaults, not of channels with their own entry', () => {
    const c = applied({ cleaning: { defaults: { hampel: { k: 9 } } } });
    expect(c.cleaning.defaults.hampel).toEqual({ halfWidth: 8, k: 9, minSigma: 0 });
    expect(c.cleaning.defaults.range).toEqual({ min: -50 });
    expect(c.cleaning.channels['pump1.temp']!.hampel).toEqual({ halfWidth: 4, k: 6, minSigma: 0 });
  });

  it("merges a channel entry over that channel's file entry", () => {
    const c = applied({ cleaning: { channels: { 'pump1.temp': { hampel: { k: 3 } } } } });
    expect(c.cleaning.channels['pump1.temp']).toMatchObject({
      hampel: { halfWidth: 4, k: 3 },
      range: { max: 150 },
    });
  });

  it('starts a channel entry new to the overlay from the overlaid defaults', () => {
    const c = applied({
      cleaning: { defaults: { stuck: { minRun: 10 } }, channels: { 'pump1.current': { hampel: { k: 4 } } } },
    });
    expect(c.cleaning.channels['pump1.current']).toMatchObject({
      range: { min: -50 },
      hampel: { halfWidth: 8, k: 4 },
      stuck: { minRun: 10 },
    });
  });

  it('turns a check off with null where null is a value, and removes a key with null elsewhere', () => {
    const c = applied({
      cleaning: { channels: { 'pump1.temp': { hampel: null, stuck: null, range: { max: null } } } },
    });
    expect(c.cleaning.channels['pump1.temp']).toMatchObject({ hampel: null, stuck: null, range: {} });
    expect(applied({ cleaning: { channels: { 'pump1.temp': null } } }).cleaning.channels).toEqual({});
    expect(applied({ capture: { maxSamplesPerHour: null } }).capture.maxSamplesPerHour).toBe(600);
  });

  it('validates the merged result, so an overlay value that contradicts the file config is refused', () => {
    expect(refused({ cleaning: { channels: { 'pump1.temp': { range: { min: 200 } } } } })).toMatch(
      /^config cleaning\.channels\.pump1\.temp\.range: min must be below max/,
    );
  });

  it('lays capture keys over the file capture config', () => {
    const c = applied({ capture: { enabled: true, randomRate: 0.5 } });
    expect(c.capture).toMatchObject({ enabled: true, randomRate: 0.5, maxSamplesPerHour: 100, histograms: true });
  });

  it('accepts drift parameters per channel and per asset (checked against the channels where applied)', () => {
    const c = applied({
      cleaning: {
        drift: { intervalMs: 1000, learnIntervals: 16 },
        channels: { 'pump1.temp': { drift: { siblings: ['pump1.current'], threshold: 4 } } },
      },
    });
    expect(c.cleaning.drift).toMatchObject({ intervalMs: 1000, learnIntervals: 16, machineChangeZ: 5 });
    expect(c.cleaning.channels['pump1.temp']!.drift).toMatchObject({ siblings: ['pump1.current'], threshold: 4 });
    expect(refused({ cleaning: { drift: { learnIntervals: 2 } } })).toMatch(
      /^config cleaning\.drift\.learnIntervals: /,
    );
  });
});
