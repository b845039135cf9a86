import { describe, expect, it } from 'vitest';
import { checkOverlay, effectiveHotConfig } from './overlay.js';

const base = { alerts: { holdOffS: 600, resolveAfterNormal: 5 } };

describe('config overlay validation', () => {
  it('accepts the hot-reloadable alert keys and lays them over the file config', () => {
    const r = checkOverlay({ alerts: { holdOffS: 30 } });
    expect(r).toEqual({ ok: true, overlay: { alerts: { holdOffS: 30 } } });
    if (!r.ok) return;
    expect(effectiveHotConfig(base, r.overlay)).toEqual({ alerts: { holdOffS: 30, resolveAfterNormal: 5 } });
  });

  it('treats an absent config as an empty overlay, so the file config applies', () => {
    const r = checkOverlay(undefined);
    expect(r).toEqual({ ok: true, overlay: {} });
    if (r.ok) expect(effectiveHotConfig(base, r.overlay)).toEqual(base);
  });

  it('refuses a key that is not hot-reloadable, naming it', () => {
    const r = checkOverlay({ alerts: { holdOffS: 30, webhookUrl: 'http://x' }, buffer: { capacityBytes: 1 } });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.reason).toContain('alerts.webhookUrl');
    expect(r.reason).toContain('buffer');
    expect(r.reason).toContain('not hot-reloadable');
  });

  it("refuses a value the agent's own schema rejects, naming the key", () => {
    const r = checkOverlay({ alerts: { resolveAfterNormal: 0.5 } });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/^config alerts\.resolveAfterNormal: /);
    expect(checkOverlay({ alerts: { holdOffS: -1 } }).ok).toBe(false);
    expect(checkOverlay({ alerts: { holdOffS: '30' } }).ok).toBe(false);
    expect(checkOverlay('alerts.holdOffS=30').ok).toBe(false);
  });
});
