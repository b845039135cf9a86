import { describe, expect, it } from 'vitest';
import { parseArgs } from './args.js';
import { CliError, hostOfTarget, isLoopbackHost, refusePlaintextToken } from './client.js';
import { transportOf } from './transport.js';

describe('mwctl transport', () => {
  it('finds the host of every gRPC target form', () => {
    expect(hostOfTarget('10.1.2.3:7443')).toBe('10.1.2.3');
    expect(hostOfTarget('cp.example:7443')).toBe('cp.example');
    expect(hostOfTarget('[::1]:7443')).toBe('::1');
    expect(hostOfTarget('dns:///cp.example:7443')).toBe('cp.example');
    expect(hostOfTarget('dns://8.8.8.8/cp.example:7443')).toBe('cp.example');
    expect(hostOfTarget('ipv4:127.0.0.1:7443')).toBe('127.0.0.1');
    expect(hostOfTarget('unix:/run/mw.sock')).toBe('unix');
    expect(hostOfTarget('cp.example')).toBe('cp.example');
  });

  it('counts only literal loopback as loopback: names are not resolved', () => {
    for (const h of ['localhost', '127.0.0.1', '127.8.9.10', '::1', '[::1]', 'unix'])
      expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['10.0.0.5', '0.0.0.0', 'cp.example', '127.example', 'fd00::2', '128.0.0.1'])
      expect(isLoopbackHost(h)).toBe(false);
  });

  it('refuses a token in plaintext to another host with exit 2, unless allowed or there is no token', () => {
    const refusal = () => refusePlaintextToken('10.0.0.5', 'mwt_x');
    expect(refusal).toThrow(CliError);
    expect(refusal).toThrow(/refusing to send the API token in plaintext to 10\.0\.0\.5/);
    try {
      refusal();
    } catch (err) {
      expect((err as CliError).exitCode).toBe(2);
    }
    expect(() => refusePlaintextToken('10.0.0.5', 'mwt_x', true)).not.toThrow();
    expect(() => refusePlaintextToken('10.0.0.5', undefined)).not.toThrow();
    expect(() => refusePlaintextToken('127.0.0.1', 'mwt_x')).not.toThrow();
  });

  it('builds TLS from --tls or MW_TLS, plaintext otherwise; --allow-plaintext from flag or env', () => {
    expect(transportOf(parseArgs(['fleet', 'ls']), {})).toEqual({ allowPlaintext: false });
    expect(transportOf(parseArgs(['--tls', 'fleet', 'ls']), {}).channel?._isSecure()).toBe(true);
    expect(transportOf(parseArgs(['fleet', 'ls']), { MW_TLS: 'true' }).channel?._isSecure()).toBe(true);
    expect(transportOf(parseArgs(['--tls=false']), { MW_TLS: 'true' }).channel).toBeUndefined();
    expect(transportOf(parseArgs(['--allow-plaintext', 'fleet']), {}).allowPlaintext).toBe(true);
    expect(transportOf(parseArgs([]), { MW_ALLOW_PLAINTEXT: '1' }).allowPlaintext).toBe(true);
  });

  it('exits 2 for a client certificate without its key and for unreadable files', () => {
    expect(() => transportOf(parseArgs(['--cert', '/nonexistent/c.pem']), {})).toThrow(/--cert and --key go together/);
    expect(() => transportOf(parseArgs([]), { MW_CA_FILE: '/nonexistent/ca.pem' })).toThrow(
      /--ca: cannot read \/nonexistent\/ca\.pem/,
    );
  });
});
