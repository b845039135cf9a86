import { describe, expect, it } from 'vitest';
import { CliError } from '../cli/client.js';
import { loadTrainerConfig } from './config.js';
import { channelFor } from './main.js';

const load = (env: Record<string, string>) =>
  loadTrainerConfig({
    env,
    readFile: () => {
      throw new Error('no file');
    },
  });

describe('trainer transport', () => {
  it('reads the TLS settings from MW_TLS_*', () => {
    const c = load({ MW_TLS_CA_FILE: '/etc/mw/ca.pem', MW_TLS_ALLOW_PLAINTEXT: 'true' });
    expect(c.tls).toMatchObject({ caFile: '/etc/mw/ca.pem', allowPlaintext: true, enabled: false });
  });

  it('refuses to send its token in plaintext to another machine', () => {
    const c = load({ MW_SERVER: '10.1.2.3:7443', MW_TOKEN: 'mw_secret' });
    expect(() => channelFor(c)).toThrow(CliError);
    expect(() => channelFor(c)).toThrow(/plaintext to 10\.1\.2\.3/);
  });

  it('allows plaintext to loopback, or when explicitly allowed', () => {
    expect(() => channelFor(load({ MW_SERVER: '127.0.0.1:7443', MW_TOKEN: 'mw_secret' }))).not.toThrow();
    const allowed = load({ MW_SERVER: '10.1.2.3:7443', MW_TOKEN: 'mw_secret', MW_TLS_ALLOW_PLAINTEXT: 'true' });
    expect(() => channelFor(allowed)).not.toThrow();
  });

  it('uses TLS when enabled, and refuses a client cert without its key', () => {
    expect(() => channelFor(load({ MW_SERVER: '10.1.2.3:7443', MW_TOKEN: 't', MW_TLS_ENABLED: 'true' }))).not.toThrow();
    expect(() => channelFor(load({ MW_TLS_CERT_FILE: '/x.pem' }))).toThrow(/go together/);
  });
});
