import { describe, expect, it } from 'vitest';
import { deriveHealth } from './fleet.js';

const t = { staleAfterMs: 15_000, offlineAfterMs: 60_000 };

describe('deriveHealth', () => {
  it('calls an agent online while its heartbeat is fresh', () => {
    expect(deriveHealth(1_000, 16_000, t)).toBe('online');
  });
  it('calls it stale once the heartbeat is older than the stale threshold', () => {
    expect(deriveHealth(1_000, 16_001, t)).toBe('stale');
  });
  it('calls it offline once the heartbeat is older than the offline threshold', () => {
    expect(deriveHealth(1_000, 61_001, t)).toBe('offline');
  });
  it('keeps a decommissioned agent decommissioned whatever its heartbeat', () => {
    expect(deriveHealth(1_000, 1_000, t, true)).toBe('decommissioned');
  });
});
