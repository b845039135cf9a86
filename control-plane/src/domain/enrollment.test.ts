import { describe, expect, it } from 'vitest';
import {
  type EnrollAttempt,
  enrollRequestProblem,
  existingAgentRefusal,
  type TokenState,
  tokenRefusal,
} from './enrollment.js';

const NOW = 1_800_000_000_000;
const token = (over: Partial<TokenState> = {}): TokenState => ({
  siteId: 'plant-a',
  expiresAtMs: NOW + 60_000,
  revokedAtMs: undefined,
  uses: 0,
  maxUses: 1,
  ...over,
});
const NKEY = `U${'A'.repeat(55)}`;
const attempt: EnrollAttempt = {
  siteId: 'plant-a',
  tokenHash: 'h',
  agentId: 'press-01',
  lineId: 'L1',
  labels: {},
  nkeyPublic: NKEY,
  agentVersion: '1.0.0',
};

describe('bootstrap token checks', () => {
  it('accepts a valid, unused token for its own site', () => {
    expect(tokenRefusal(token(), 'plant-a', NOW, false)).toBeUndefined();
  });

  it('refuses unknown, wrong-site, revoked, expired and used-up tokens with distinct codes', () => {
    expect(tokenRefusal(undefined, 'plant-a', NOW, false)?.code).toBe('invalid_token');
    expect(tokenRefusal(token(), 'plant-b', NOW, false)?.code).toBe('wrong_site');
    expect(tokenRefusal(token({ revokedAtMs: NOW - 1 }), 'plant-a', NOW, false)?.code).toBe('token_revoked');
    expect(tokenRefusal(token({ expiresAtMs: NOW }), 'plant-a', NOW, false)?.code).toBe('token_expired');
    expect(tokenRefusal(token({ uses: 1 }), 'plant-a', NOW, false)?.code).toBe('token_used_up');
  });

  it('lets the same agent re-enrol with a used-up token but not with an expired one', () => {
    expect(tokenRefusal(token({ uses: 1 }), 'plant-a', NOW, true)).toBeUndefined();
    expect(tokenRefusal(token({ uses: 1, expiresAtMs: NOW - 1 }), 'plant-a', NOW, true)?.code).toBe('token_expired');
  });
});

describe('agent id checks', () => {
  it('treats the same site and key as the same agent', () => {
    expect(existingAgentRefusal(undefined, attempt)).toBe('new');
    expect(existingAgentRefusal({ siteId: 'plant-a', nkeyPublic: NKEY, decommissioned: false }, attempt)).toBe('same');
  });

  it('refuses an id taken by another key or a decommissioned agent', () => {
    const other = existingAgentRefusal(
      { siteId: 'plant-a', nkeyPublic: `U${'B'.repeat(55)}`, decommissioned: false },
      attempt,
    );
    expect(other).toMatchObject({ code: 'agent_exists' });
    const gone = existingAgentRefusal({ siteId: 'plant-a', nkeyPublic: NKEY, decommissioned: true }, attempt);
    expect(gone).toMatchObject({ code: 'decommissioned' });
  });
});

describe('enrollment request checks', () => {
  it('accepts a well-formed request and refuses a site that differs from the subject', () => {
    expect(enrollRequestProblem(attempt, 'plant-a')).toBeUndefined();
    expect(enrollRequestProblem(attempt, 'plant-b')).toMatch(/subject/);
  });

  it('refuses bad ids, keys and labels', () => {
    expect(enrollRequestProblem({ ...attempt, agentId: 'a.b' }, 'plant-a')).toMatch(/agent_id/);
    expect(enrollRequestProblem({ ...attempt, nkeyPublic: 'ABC' }, 'plant-a')).toMatch(/nkey_public/);
    const labels = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    expect(enrollRequestProblem({ ...attempt, labels }, 'plant-a')).toMatch(/labels/);
  });
});
