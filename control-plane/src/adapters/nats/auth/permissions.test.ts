import { describe, expect, it } from 'vitest';
import { replacePreloadJwt } from './issuer.js';
import { agentUserClaims, bootstrapUserClaims } from './permissions.js';

describe('agent NATS permissions', () => {
  it('allow only its own subjects, its own KV keys and its own inbox', () => {
    const c = agentUserClaims('s1', 'a1');
    expect(c.sub.allow).toEqual(['_INBOX_a1.>']);
    expect(c.pub.allow).toEqual([
      'mw.v1.edge.s1.a1.>',
      '$JS.API.CONSUMER.CREATE.KV_mw_desired.*.$KV.mw_desired.s1.a1',
      '$JS.API.DIRECT.GET.KV_mw_desired.$KV.mw_desired.s1.a1',
      '$JS.FC.KV_mw_desired.>',
      '$JS.API.CONSUMER.CREATE.KV_mw_watermark.*.$KV.mw_watermark.s1.a1',
      '$JS.API.DIRECT.GET.KV_mw_watermark.$KV.mw_watermark.s1.a1',
      '$JS.FC.KV_mw_watermark.>',
    ]);
    for (const s of c.pub.allow)
      expect(s).not.toMatch(/STREAM\.(INFO|MSG)|\$JS\.API\.INFO|CONSUMER\.(DELETE|LIST|NAMES)/);
  });

  it('refuse ids that would widen a subject', () => {
    expect(() => agentUserClaims('s1', '*')).toThrow();
    expect(() => agentUserClaims('>', 'a1')).toThrow();
  });

  it('let the bootstrap user only request enrollment', () => {
    expect(bootstrapUserClaims().pub.allow).toEqual(['mw.v1.enroll.*']);
    expect(bootstrapUserClaims().sub.allow).toEqual(['_INBOX_enroll.>']);
  });

  it('rewrites only the account line of the preload', () => {
    const conf = 'system_account: ASYS\nresolver_preload: {\n  ASYS: sysjwt\n  AMW: old\n}\n';
    expect(replacePreloadJwt(conf, 'AMW', 'new')).toBe(
      'system_account: ASYS\nresolver_preload: {\n  ASYS: sysjwt\n  AMW: new\n}\n',
    );
  });
});
