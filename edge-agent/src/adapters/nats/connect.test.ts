import { describe, expect, it } from 'vitest';
import { tlsOption } from './connect.js';

describe('NATS TLS options', () => {
  it('requires TLS for a tls:// URL even without files, so a server without TLS is refused', () => {
    expect(tlsOption('tls://gw:4222', undefined)).toEqual({ tls: {} });
    expect(tlsOption('nats://a:4222, TLS://b:4222', {})).toEqual({ tls: {} });
  });

  it('requires TLS with the given files whatever the scheme, and adds nothing otherwise', () => {
    expect(tlsOption('nats://a:4222', { caFile: '/ca.pem' })).toEqual({ tls: { caFile: '/ca.pem' } });
    expect(tlsOption('nats://a:4222', { certFile: '/c.pem', keyFile: '/k.pem' })).toEqual({
      tls: { certFile: '/c.pem', keyFile: '/k.pem' },
    });
    expect(tlsOption('nats://a:4222', {})).toEqual({});
  });
});
