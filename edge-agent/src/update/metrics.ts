import { Counter, Gauge, type Registry } from 'prom-client';

/** Outcome of a desired state's trust bundle at this agent. */
export type TrustBundleOutcome = 'accepted' | 'unchanged' | 'stale' | 'refused';

/** What the update manager counts; `noUpdateMetrics` when nothing scrapes them (tests). */
export interface UpdateMetrics {
  trustBundle(outcome: TrustBundleOutcome): void;
  /** 1 while installs and switches are refused because the trust state could not be read. */
  trustBlocked(blocked: boolean): void;
  /** 1 while the active model is signed only by a revoked key (it keeps serving). */
  activeRevoked(revoked: boolean): void;
  /** A fallback or shadow taken out of service because only a revoked key signed it. */
  revokedDropped(slot: 'previous' | 'shadow'): void;
  /** 1 while the config of the desired generation is refused (the previous config stays). */
  configRefused(refused: boolean): void;
}

export const noUpdateMetrics: UpdateMetrics = {
  trustBundle: () => undefined,
  trustBlocked: () => undefined,
  activeRevoked: () => undefined,
  revokedDropped: () => undefined,
  configRefused: () => undefined,
};

export function promUpdateMetrics(registers: Registry): UpdateMetrics {
  const r = [registers];
  const bundles = new Counter({
    name: 'mw_agent_trust_bundles_total',
    help: 'Trust bundles in desired states by outcome (accepted, unchanged, stale: ignored, refused)',
    labelNames: ['outcome'],
    registers: r,
  });
  const blocked = new Gauge({
    name: 'mw_agent_trust_state_blocked',
    help: '1 while model installs are refused because the trust state could not be read',
    registers: r,
  });
  const revoked = new Gauge({
    name: 'mw_agent_active_model_revoked',
    help: '1 while the active model is signed only by a revoked key (it keeps serving)',
    registers: r,
  });
  const dropped = new Counter({
    name: 'mw_agent_revoked_models_dropped_total',
    help: 'Fallback or shadow models taken out of service because only a revoked key signed them',
    labelNames: ['slot'],
    registers: r,
  });
  const config = new Gauge({
    name: 'mw_agent_config_refused',
    help: '1 while the config of the desired generation is refused (the previous config stays)',
    registers: r,
  });
  return {
    trustBundle: (outcome) => bundles.inc({ outcome }),
    trustBlocked: (on) => blocked.set(on ? 1 : 0),
    activeRevoked: (on) => revoked.set(on ? 1 : 0),
    revokedDropped: (slot) => dropped.inc({ slot }),
    configRefused: (on) => config.set(on ? 1 : 0),
  };
}
