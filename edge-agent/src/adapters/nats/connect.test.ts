import { type AddressInfo, createServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { MillwrightError } from '../../domain/errors.js';
import { connectNats, tlsOption } from './connect.js';

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

/** A TCP server in place of NATS that counts connection attempts and fails (or stalls) each one. */
async function fakeBroker(mode: 'refuse' | 'stall') {
  const sockets = new Set<Socket>();
  let attempts = 0;
  const server = createServer((socket) => {
    attempts++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    if (mode === 'refuse') socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `nats://127.0.0.1:${port}`,
    attempts: () => attempts,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('connectNats retries', () => {
  it('stops retrying once aborted: the promise rejects and no attempt follows', async () => {
    const broker = await fakeBroker('refuse');
    try {
      const abort = new AbortController();
      const errors: Error[] = [];
      const connecting = connectNats({
        url: broker.url,
        agentId: 'a1',
        retryMs: 20,
        signal: abort.signal,
        onConnectError: (err) => errors.push(err),
      });
      while (broker.attempts() < 3) await settle(10);
      abort.abort();
      await expect(connecting).rejects.toMatchObject({ name: 'MillwrightError', code: 'UNAVAILABLE' });
      const seen = broker.attempts();
      await settle(300); // fifteen retry intervals
      expect(broker.attempts()).toBe(seen);
      expect(errors.length).toBeGreaterThan(0);
    } finally {
      await broker.close();
    }
  });

  it('gives up an attempt still in flight when aborted, without waiting for its timeout', async () => {
    const broker = await fakeBroker('stall');
    try {
      const abort = new AbortController();
      const connecting = connectNats({ url: broker.url, agentId: 'a1', retryMs: 20, signal: abort.signal });
      while (broker.attempts() < 1) await settle(10);
      abort.abort();
      await expect(connecting).rejects.toBeInstanceOf(MillwrightError);
      await settle(100);
      expect(broker.attempts()).toBe(1);
    } finally {
      await broker.close();
    }
  });
});
