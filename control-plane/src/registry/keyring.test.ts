import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, ErrorCode, MillwrightError } from '../domain/errors.js';
import { DEV_KEY_FILE, Keyring } from './keyring.js';

// RFC 8032, section 7.1, test 1.
const RFC_SEED = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
const RFC_PUBLIC = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';

describe('Keyring', () => {
  it('generates a development key once and reuses it', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'mw-key-')), 'keys');
    const first = Keyring.load({ devKeyDir: dir }).initial();
    const second = Keyring.load({ devKeyDir: dir }).initial();
    expect(second?.keyId).toBe(first?.keyId);
    expect(statSync(join(dir, DEV_KEY_FILE)).mode & 0o777).toBe(0o600);
  });

  it('prefers keyFile, and names the key when the file is unusable', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mw-key-'));
    const file = join(dir, 'key');
    writeFileSync(file, Buffer.from(RFC_SEED, 'hex').toString('base64'));
    expect(Keyring.load({ keyFile: file, devKeyDir: dir }).initial()?.publicKey).toBe(
      Buffer.from(RFC_PUBLIC, 'hex').toString('base64'),
    );
    writeFileSync(file, 'not a key');
    expect(() => Keyring.load({ keyFile: file })).toThrow(ConfigError);
    expect(() => Keyring.load({ keyFile: file })).toThrow(/signing\.keyFile/);
    expect(readFileSync(file, 'utf8')).toBe('not a key');
  });

  it('holds nothing when nothing is configured, and cannot generate without a directory', () => {
    const ring = Keyring.load({});
    expect(ring.initial()).toBeUndefined();
    expect(ring.held()).toEqual([]);
    expect(() => ring.generate()).toThrow(MillwrightError);
    expect(() => ring.generate()).toThrow(expect.objectContaining({ code: ErrorCode.PRECONDITION }));
  });

  it('generates new keys into the key directory, where another replica finds them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mw-keydir-'));
    const a = Keyring.load({ keyDir: dir });
    const b = Keyring.load({ keyDir: dir });
    const key = a.generate();
    expect(statSync(join(dir, `${key.keyId}.pem`)).mode & 0o777).toBe(0o600);
    expect(b.get(key.keyId)?.publicKey).toBe(key.publicKey);
    expect(b.get('0000000000000000')).toBeUndefined();
  });

  it('refuses a broken file in the key directory at start, naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mw-keydir-'));
    writeFileSync(join(dir, 'old.pem'), 'garbage');
    expect(() => Keyring.load({ keyDir: dir })).toThrow(/signing\.keyDir: cannot use .*old\.pem/);
  });
});
