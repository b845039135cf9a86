import { describe, expect, it } from 'vitest';
import { ConfigSchema, loadConfig } from './config.js';
import { envVarNames } from './config-loader.js';
import { ConfigError } from './domain/errors.js';

describe('loadConfig', () => {
  it('uses defaults when nothing is configured', () => {
    const c = loadConfig({ env: {} });
    expect(c.grpc.port).toBe(7443);
    expect(c.health.staleAfterS).toBe(15);
  });

  it('lets MW_ environment variables override the file', () => {
    const c = loadConfig({
      env: { MW_GRPC_PORT: '9000', MW_HEALTH_STALE_AFTER_S: '5' },
      fileText: 'grpc:\n  port: 8000\n',
    });
    expect(c.grpc.port).toBe(9000);
    expect(c.health.staleAfterS).toBe(5);
  });

  it('reads secrets from *_FILE variables', () => {
    const c = loadConfig({ env: { MW_S3_SECRET_ACCESS_KEY_FILE: '/run/secret' }, readFile: () => 'sekret\n' });
    expect(c.s3.secretAccessKey).toBe('sekret');
  });

  it('names every bad key at once', () => {
    try {
      loadConfig({ env: { MW_GRPC_PORT: 'abc', MW_DATABASE_URL: 'not a url' } });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const issues = (err as ConfigError).issues.join('\n');
      expect(issues).toContain('grpc.port (MW_GRPC_PORT)');
      expect(issues).toContain('database.url (MW_DATABASE_URL)');
    }
  });

  it('rejects an offline threshold below the stale one', () => {
    expect(() => loadConfig({ env: { MW_HEALTH_STALE_AFTER_S: '100', MW_HEALTH_OFFLINE_AFTER_S: '50' } })).toThrow(
      /offlineAfterS/,
    );
  });

  it('refuses a client CA without a server certificate instead of serving plaintext', () => {
    expect(() => loadConfig({ env: { MW_GRPC_TLS_CLIENT_CA_FILE: '/etc/mw/clients.pem' } })).toThrow(
      /clientCaFile needs certFile/,
    );
    const env = {
      MW_GRPC_TLS_CLIENT_CA_FILE: '/etc/mw/clients.pem',
      MW_GRPC_TLS_CERT_FILE: '/etc/mw/cp.pem',
      MW_GRPC_TLS_KEY_FILE: '/etc/mw/cp-key.pem',
    };
    expect(loadConfig({ env }).grpc.tls.clientCaFile).toBe('/etc/mw/clients.pem');
  });

  it('returns a frozen object', () => {
    const c = loadConfig({ env: {} });
    expect(Object.isFrozen(c.grpc)).toBe(true);
  });

  it('lists the environment variables it accepts', () => {
    expect(envVarNames(ConfigSchema)).toContain('MW_HEALTH_OFFLINE_AFTER_S');
  });
});
