import { describe, expect, it } from 'vitest';
import { type ConfigLayer, layersOnSuccess, mergedConfig, rolloutLayers } from './config-layers.js';
import type { Selector } from './domain.js';

const sel = (over: Partial<Selector> = {}): Selector => ({ siteIds: [], labels: {}, excludeAgentIds: [], ...over });
const cfg = { alerts: { holdOffS: 30 } };
const agent = { id: 'a1', siteId: 'plant-a', labels: { line: 'L1' } };

describe('config rollout layers', () => {
  it('stores a rollout without a selector as a fleet layer', () => {
    expect(rolloutLayers(sel(), cfg, ['a1'], 5)).toEqual([
      { scope: 'fleet', selector: {}, config: cfg, createdAtMs: 5 },
    ]);
  });

  it('stores one site layer per site of the selector', () => {
    const layers = rolloutLayers(sel({ siteIds: ['plant-a', 'plant-b'] }), cfg, ['a1'], 5);
    expect(layers.map((l) => [l.scope, l.selector])).toEqual([
      ['site', { site: 'plant-a' }],
      ['site', { site: 'plant-b' }],
    ]);
  });

  it('stores a label selector as a label group', () => {
    const layers = rolloutLayers(sel({ labels: { line: 'L1' } }), cfg, ['a1'], 5);
    expect(layers.map((l) => [l.scope, l.selector])).toEqual([['label_group', { line: 'L1' }]]);
  });

  it('falls back to one agent layer per reached agent when no scope names the target exactly', () => {
    const both = rolloutLayers(sel({ siteIds: ['plant-a'], labels: { line: 'L1' } }), cfg, ['a1', 'a2'], 5);
    expect(both.map((l) => [l.scope, l.selector])).toEqual([
      ['agent', { agent: 'a1' }],
      ['agent', { agent: 'a2' }],
    ]);
    const excluding = rolloutLayers(sel({ excludeAgentIds: ['a3'] }), cfg, ['a1'], 5);
    expect(excluding.map((l) => l.scope)).toEqual(['agent']);
  });
});

describe('merged agent config', () => {
  const stored: ConfigLayer[] = [
    { scope: 'site', selector: { site: 'plant-a' }, config: { alerts: { holdOffS: 10 } }, createdAtMs: 1 },
    { scope: 'fleet', selector: {}, config: { alerts: { holdOffS: 60, resolveAfterNormal: 3 } }, createdAtMs: 1 },
    { scope: 'site', selector: { site: 'plant-b' }, config: { alerts: { holdOffS: 99 } }, createdAtMs: 1 },
  ];

  it('merges fleet, then site, deep, leaving out layers of other sites', () => {
    expect(mergedConfig(stored, agent)).toEqual({ alerts: { holdOffS: 10, resolveAfterNormal: 3 } });
  });

  it('puts a rollout layer at its own scope: newer than stored layers of that scope, below narrower ones', () => {
    const fleetRollout = rolloutLayers(sel(), { alerts: { resolveAfterNormal: 7, holdOffS: 30 } }, ['a1'], 2);
    expect(mergedConfig([...stored, ...fleetRollout], agent)).toEqual({
      alerts: { holdOffS: 10, resolveAfterNormal: 7 },
    });
    const siteRollout = rolloutLayers(sel({ siteIds: ['plant-a'] }), cfg, ['a1'], 2);
    expect(mergedConfig([...stored, ...siteRollout], agent)).toEqual({
      alerts: { holdOffS: 30, resolveAfterNormal: 3 },
    });
  });

  it('is undefined when no layer applies', () => {
    expect(mergedConfig(stored.slice(2), agent)).toBeUndefined();
  });
});

describe('layers a config rollout stores when it succeeds', () => {
  const members = [
    { agentId: 'a1', state: 'active' as const },
    { agentId: 'a2', state: 'failed' as const },
    { agentId: 'a3', state: 'excluded' as const },
    { agentId: 'a4', state: 'notified' as const },
  ];
  const at = (id: string, siteId = 'plant-a') => ({ id, siteId, labels: {} });

  it('stores its scope layer unchanged when no member refused it', () => {
    const ok = members.filter((m) => m.state !== 'failed');
    expect(layersOnSuccess(sel(), cfg, ok, 5)).toEqual(rolloutLayers(sel(), cfg, ['a1', 'a4'], 5));
  });

  it('keeps the layer from the members that refused it, and only from them', () => {
    const layers = layersOnSuccess(sel({ siteIds: ['plant-a'] }), cfg, members, 5);
    expect(layers.map((l) => [l.scope, l.selector, [...(l.exceptAgents ?? [])]])).toEqual([
      ['site', { site: 'plant-a' }, ['a2']],
    ]);
    expect(mergedConfig(layers, at('a1'))).toEqual(cfg);
    expect(mergedConfig(layers, at('a2'))).toBeUndefined();
    expect(mergedConfig(layers, at('a5'))).toEqual(cfg); // an agent that joins the site later gets it
    expect(mergedConfig(layers, at('a1', 'plant-b'))).toBeUndefined();
  });

  it('leaves a refusing agent out of the agent-layer fallback, and stores nothing when nobody took it', () => {
    const target = sel({ excludeAgentIds: ['a9'] });
    expect(layersOnSuccess(target, cfg, members, 5).map((l) => l.selector.agent)).toEqual(['a1', 'a4']);
    const refusedByAll = members.map((m) => ({ ...m, state: m.state === 'excluded' ? m.state : ('failed' as const) }));
    expect(layersOnSuccess(sel(), cfg, refusedByAll, 5)).toEqual([]);
  });

  it('leaves a refusing agent on the layers it had before', () => {
    const older: ConfigLayer = { scope: 'fleet', selector: {}, config: { alerts: { holdOffS: 5 } }, createdAtMs: 1 };
    const layers = [older, ...layersOnSuccess(sel(), cfg, members, 5)];
    expect(mergedConfig(layers, at('a2'))).toEqual({ alerts: { holdOffS: 5 } });
    expect(mergedConfig(layers, at('a1'))).toEqual(cfg);
  });
});
