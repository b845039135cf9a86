import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Ed25519Signer, keyIdOf, parsePrivateKey, verifyEd25519 } from './signing.js';

// RFC 8032, section 7.1, test 1.
const RFC_SEED = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
const RFC_PUBLIC = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
const RFC_SIGNATURE =
  'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';

describe('ed25519 signing', () => {
  it('matches the RFC 8032 test vector from a base64 seed', () => {
    const signer = new Ed25519Signer(parsePrivateKey(Buffer.from(RFC_SEED, 'hex').toString('base64')));
    expect(Buffer.from(signer.publicKey, 'base64').toString('hex')).toBe(RFC_PUBLIC);
    expect(Buffer.from(signer.sign(new Uint8Array())).toString('hex')).toBe(RFC_SIGNATURE);
    expect(signer.keyId).toBe(keyIdOf(Buffer.from(RFC_PUBLIC, 'hex')));
    expect(signer.keyId).toMatch(/^[0-9a-f]{16}$/);
  });

  it('reads the same key from PKCS#8 PEM', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect(new Ed25519Signer(parsePrivateKey(pem)).keyId).toBe(new Ed25519Signer(privateKey).keyId);
  });

  it('verifies a signature and refuses a tampered payload or another key', () => {
    const signer = new Ed25519Signer(generateKeyPairSync('ed25519').privateKey);
    const other = new Ed25519Signer(generateKeyPairSync('ed25519').privateKey);
    const payload = Buffer.from('manifest and digest');
    const sig = signer.sign(payload);
    expect(verifyEd25519(signer.publicKey, payload, sig)).toBe(true);
    expect(verifyEd25519(signer.publicKey, Buffer.from('manifest and digesT'), sig)).toBe(false);
    expect(verifyEd25519(other.publicKey, payload, sig)).toBe(false);
  });

  it('refuses a key that is not ed25519', () => {
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' });
    expect(() => parsePrivateKey(pem.toString())).toThrow(/expected ed25519/);
  });
});
