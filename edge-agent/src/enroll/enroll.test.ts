import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { nkeyUserKeys } from '../adapters/nats/enroll.js';
import { type EnrollDeps, ensureIdentity } from './enroll.js';
import { EnrollmentRefusedError, IdentityMismatchError } from './errors.js';
import type { EnrollClient, EnrollReplyData, EnrollRequestData } from './ports.js';

class FakeControlPlane implements EnrollClient {
  readonly requests: EnrollRequestData[] = [];
  failures = 0;
  reply: (req: EnrollRequestData) => EnrollReplyData = (req) => ({
    ok: true,
    agentId: req.agentId,
    siteId: req.siteId,
    natsUserJwt: '',
    trustKeys: ['k1'],
  });

  async enroll(req: EnrollRequestData): Promise<EnrollReplyData> {
    this.requests.push(req);
    if (this.failures > 0) {
      this.failures--;
      throw new Error('503 no responders');
    }
    return this.reply(req);
  }
}

describe('agent enrollment', () => {
  let cp: FakeControlPlane;
  let deps: EnrollDeps;

  beforeEach(async () => {
    cp = new FakeControlPlane();
    deps = {
      dataDir: await mkdtemp(join(tmpdir(), 'mw-enroll-')),
      agent: { agentId: 'press-01', siteId: 'plant-a', lineId: 'L1', labels: { hw: 'rpi4' }, agentVersion: '1.2.3' },
      settings: { enabled: true, bootstrapToken: 'mwbt_secret', timeoutMs: 1000 },
      client: cp,
      keys: nkeyUserKeys,
      log: pino({ level: 'silent' }),
      now: () => 42,
      sleep: async () => {},
    };
  });

  it('enrols on first start and keeps the identity and a private seed under dataDir/identity', async () => {
    const identity = await ensureIdentity(deps);
    expect(identity).toMatchObject({ agentId: 'press-01', siteId: 'plant-a', trustKeys: ['k1'], credsFile: undefined });
    expect(cp.requests[0]).toMatchObject({
      bootstrapToken: 'mwbt_secret',
      lineId: 'L1',
      nkeyPublic: identity?.nkeyPublic,
    });
    const seedFile = join(deps.dataDir, 'identity', 'nkey.seed');
    expect((await stat(seedFile)).mode & 0o777).toBe(0o600);
    const seed = (await readFile(seedFile, 'utf8')).trim();
    expect(seed.startsWith('SU')).toBe(true);
    expect(nkeyUserKeys.publicKeyOf(seed)).toBe(identity?.nkeyPublic);
  });

  it('never enrols again once an identity is stored', async () => {
    const first = await ensureIdentity(deps);
    const again = await ensureIdentity({ ...deps, settings: { ...deps.settings, bootstrapToken: undefined } });
    expect(again).toEqual(first);
    expect(cp.requests).toHaveLength(1);
  });

  it('writes a creds file when the control plane issues a user JWT', async () => {
    cp.reply = (req) => ({ ok: true, agentId: req.agentId, siteId: req.siteId, natsUserJwt: 'eyJ.jwt', trustKeys: [] });
    const identity = await ensureIdentity(deps);
    const creds = await readFile(identity!.credsFile!, 'utf8');
    expect(creds).toContain('eyJ.jwt');
    expect((await stat(identity!.credsFile!)).mode & 0o777).toBe(0o600);
  });

  it('fails with the reason when the control plane refuses, and stores no identity', async () => {
    cp.reply = () => ({ ok: false, error: 'token_expired: bootstrap token expired' });
    await expect(ensureIdentity(deps)).rejects.toBeInstanceOf(EnrollmentRefusedError);
    await expect(ensureIdentity(deps)).rejects.toThrow(/token_expired/);
  });

  it('retries while the control plane is unreachable, with the same key', async () => {
    cp.failures = 2;
    await ensureIdentity(deps);
    expect(cp.requests).toHaveLength(3);
    expect(new Set(cp.requests.map((r) => r.nkeyPublic)).size).toBe(1);
  });

  it('does nothing without a token or when disabled', async () => {
    expect(
      await ensureIdentity({ ...deps, settings: { ...deps.settings, bootstrapToken: undefined } }),
    ).toBeUndefined();
    expect(await ensureIdentity({ ...deps, settings: { ...deps.settings, enabled: false } })).toBeUndefined();
    expect(cp.requests).toEqual([]);
  });

  it('refuses to run with the stored identity of another agent', async () => {
    await ensureIdentity(deps);
    const other = { ...deps, agent: { ...deps.agent, agentId: 'press-02' } };
    await expect(ensureIdentity(other)).rejects.toBeInstanceOf(IdentityMismatchError);
  });
});
