import { describe, expect, it } from 'vitest';
import type { ConfigLayer } from './config-layers.js';
import { type BuildContext, buildDesired, type DesiredIntent } from './desired.js';
import type { Rollout, RolloutSpec } from './domain.js';
import type { DesiredModelRef, DesiredSpec } from './ports.js';

const ref = (version: string): DesiredModelRef => ({
  model: 'press',
  version,
  sha256: `sha-${version}`,
  sizeBytes: 10,
  signature: { keyId: 'k', signature: 's', payload: 'p' },
});

function rollout(spec: Partial<RolloutSpec>): Rollout {
  return {
    id: 'r1',
    spec: {
      model: 'press',
      version: '',
      target: { siteIds: [], labels: {}, excludeAgentIds: [] },
      stages: [{ name: 'full', percent: 100, bakeS: 0, gates: [], shadow: false, timeoutS: 0 }],
      failureAction: 'rollback',
      maxParallelPerSite: 0,
      switchCondition: '',
      force: false,
      reason: '',
      config: undefined,
      promoteAlias: 'production',
      ...spec,
    },
    status: 'running',
    statusReason: '',
    currentStage: 0,
    stageStartedAtMs: 0,
    previousVersion: '1.0.0',
    targetSize: 1,
    createdBy: 't',
    createdAtMs: 0,
    updatedAtMs: 0,
  };
}

const stored: ConfigLayer[] = [
  { scope: 'label_group', selector: { line: 'L1' }, config: { alerts: { resolveAfterNormal: 4 } }, createdAtMs: 1 },
];

function build(r: Rollout, intent: DesiredIntent, current?: DesiredSpec) {
  const ctx: BuildContext = {
    rollout: r,
    agents: new Map([['a1', { id: 'a1', siteId: 'plant-a', labels: { line: 'L1' } }]]),
    sites: new Map(),
    layers: stored,
    nowMs: 100,
  };
  return buildDesired(ctx, intent, 'a1', 'plant-a', current);
}

const running = {
  agentId: 'a1',
  siteId: 'plant-a',
  generation: 3,
  model: ref('1.0.0'),
  shadow: undefined,
  switchPolicy: { condition: '', force: false, windows: [], timeZone: '' },
  config: undefined,
  rolloutId: 'r0',
  reason: '',
  issuedAtMs: 0,
} satisfies DesiredSpec;

describe('desired state of a rollout', () => {
  const layer = { alerts: { holdOffS: 30 } };

  it('carries a config rollout layer over the stored layers and keeps the running model', () => {
    const d = build(rollout({ config: layer }), { kind: 'update', ref: undefined }, running);
    expect(d.model?.version).toBe('1.0.0');
    expect(d.config).toEqual({ alerts: { resolveAfterNormal: 4, holdOffS: 30 } });
  });

  it('sends a config-only rollback back to the stored layers without touching the model', () => {
    const d = build(rollout({ config: layer }), { kind: 'revert', ref: undefined }, running);
    expect(d.model?.version).toBe('1.0.0');
    expect(d.config).toEqual({ alerts: { resolveAfterNormal: 4 } });
    expect(d.switchPolicy.force).toBe(true);
  });

  it('runs a shadow candidate beside the current model without the rollout config', () => {
    const r = rollout({ version: '2.0.0', config: layer });
    const d = build(r, { kind: 'shadow', ref: ref('2.0.0') }, running);
    expect(d.model?.version).toBe('1.0.0');
    expect(d.shadow?.version).toBe('2.0.0');
    expect(d.config).toEqual({ alerts: { resolveAfterNormal: 4 } });
  });

  it('switches the model of a versioned rollout and sends its rollback to the previous version', () => {
    const r = rollout({ version: '2.0.0' });
    expect(build(r, { kind: 'update', ref: ref('2.0.0') }, running).model?.version).toBe('2.0.0');
    expect(build(r, { kind: 'revert', ref: ref('1.0.0') }, running).model?.version).toBe('1.0.0');
  });
});
