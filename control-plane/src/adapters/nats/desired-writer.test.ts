import { describe, expect, it } from 'vitest';
import type { DesiredSpec, DesiredStateBus } from '../../rollouts/ports.js';
import { publishPending } from './desired-writer.js';

const spec = (agentId: string): DesiredSpec => ({
  agentId,
  siteId: 's',
  generation: 2,
  model: undefined,
  shadow: undefined,
  switchPolicy: { condition: '', force: false, windows: [], timeZone: '' },
  config: undefined,
  rolloutId: '',
  reason: '',
  issuedAtMs: 0,
});

/** Pending rows oldest first, as `desired_states` returns them; `failing` agents are never written. */
function fixture(agents: number, failing: Set<string>) {
  const pending = Array.from({ length: agents }, (_, i) => `a${String(i).padStart(3, '0')}`);
  const published: number[] = [];
  const desired = {
    pendingKv: async (_olderThanMs: number, limit: number) => pending.slice(0, limit).map(spec),
    markWritten: async (written: { agentId: string }[]) => {
      for (const w of written) pending.splice(pending.indexOf(w.agentId), 1);
    },
  };
  const bus: DesiredStateBus = {
    publish: async (states) => {
      published.push(states.length);
      return states
        .filter((s) => !failing.has(s.agentId))
        .map((s) => ({ agentId: s.agentId, generation: s.generation, revision: 1 }));
    },
  };
  return { desired, bus, published, pending };
}

describe('publishPending', () => {
  it('writes every pending state in rounds', async () => {
    const f = fixture(25, new Set());
    expect(await publishPending(f.desired, f.bus, { now: () => 0, batch: 10 })).toBe(25);
    expect(f.published).toEqual([10, 10, 5]);
    expect(f.pending).toEqual([]);
  });

  it('stops after a round that wrote nothing and reports what is left', async () => {
    const failing = new Set(Array.from({ length: 10 }, (_, i) => `a${String(i).padStart(3, '0')}`));
    const f = fixture(25, failing);
    await expect(publishPending(f.desired, f.bus, { now: () => 0, batch: 10 })).rejects.toThrow(
      /^10 desired states were not written to KV/,
    );
    // The failing rows come first every round: after one round without progress it gives up.
    expect(f.published).toEqual([10]);
    expect(f.pending).toHaveLength(25);
  });

  it('goes on while rounds make progress, then reports the failures of the last round', async () => {
    const f = fixture(25, new Set(['a000', 'a013']));
    await expect(publishPending(f.desired, f.bus, { now: () => 0, batch: 10 })).rejects.toThrow(
      /^2 desired states were not written/,
    );
    expect(f.pending).toEqual(['a000', 'a013']);
  });
});
