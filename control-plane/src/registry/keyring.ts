import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, PreconditionError } from '../domain/errors.js';
import { Ed25519Signer, parsePrivateKey } from './signing.js';

/** The development key's file name in `signing.devKeyDir`. */
export const DEV_KEY_FILE = 'signing-key.pem';
const KEY_FILE = /\.(pem|key)$/;

/** Where private keys come from (the `signing` config section). */
export interface SigningKeySource {
  /** PKCS#8 PEM or base64 raw seed: the key of a fresh database. Wins over `devKeyDir`. */
  keyFile?: string;
  /**
   * Every `*.pem` / `*.key` file here is a key this replica can sign with; `mwctl models keys rotate`
   * generates new keys into it. Every replica must see the same keys (a shared volume or secret).
   */
  keyDir?: string;
  /** Development only: a key is generated here on first start and reused; also a key directory. */
  devKeyDir?: string;
}

/**
 * The private keys this replica holds. Which one signs new versions is decided in the database
 * (signing_keys.active), so every replica follows a rotation; old keys stay here to sign trust
 * bundles for agents that only know them.
 */
export class Keyring {
  private readonly keys = new Map<string, Ed25519Signer>();
  /** Keys this process generated (the only ones `discard` deletes). */
  private readonly generated = new Set<string>();

  private constructor(
    private readonly src: SigningKeySource,
    private readonly initialKey: Ed25519Signer | undefined,
  ) {
    if (initialKey) this.keys.set(initialKey.keyId, initialKey);
  }

  /**
   * Loads `keyFile`, the development key (generated on first use) and every key in the directories.
   * @throws ConfigError naming the file when a key cannot be read or parsed.
   */
  static load(src: SigningKeySource): Keyring {
    const initial = src.keyFile ? new Ed25519Signer(readKey('signing.keyFile', src.keyFile)) : devKey(src.devKeyDir);
    const ring = new Keyring(src, initial);
    ring.scan(true);
    return ring;
  }

  /** The key a fresh database starts with: `keyFile`, else the development key. */
  initial(): Ed25519Signer | undefined {
    return this.initialKey;
  }

  /** The key with this id; the key directories are read again first when it is not loaded yet. */
  get(keyId: string): Ed25519Signer | undefined {
    if (!this.keys.has(keyId)) this.scan(false);
    return this.keys.get(keyId);
  }

  held(): Ed25519Signer[] {
    return [...this.keys.values()];
  }

  /**
   * Generates a key into `keyDir` (or `devKeyDir`, development only) as `<keyId>.pem`, mode 0600, and
   * reads it back from there: a key is only handed out once the file loads. With several replicas,
   * `keyDir` must be one directory they all see; otherwise provision the key on every replica and
   * rotate with `--key-id` instead.
   * @throws PreconditionError when neither directory is configured or the written key does not load.
   */
  generate(): Ed25519Signer {
    const dir = this.src.keyDir ?? this.src.devKeyDir;
    if (!dir) {
      throw new PreconditionError(
        'rotating without --key-id generates a key into signing.keyDir, which is not set on this replica: ' +
          'provision the new private key into signing.keyDir on every replica (a shared secret or volume) and rotate with --key-id',
        { field: 'key_id' },
      );
    }
    const pem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const keyId = new Ed25519Signer(parsePrivateKey(pem)).keyId;
    const file = join(dir, `${keyId}.pem`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(file, pem, { mode: 0o600, flag: 'wx' });
    let signer: Ed25519Signer;
    try {
      signer = new Ed25519Signer(readKey('signing.keyDir', file));
      if (signer.keyId !== keyId) throw new Error(`it holds key ${signer.keyId}`);
    } catch (err) {
      rmSync(file, { force: true });
      throw new PreconditionError(
        `the generated signing key cannot be loaded back from ${file}: ${(err as Error).message}`,
        {
          field: 'key_id',
        },
      );
    }
    this.generated.add(keyId);
    this.keys.set(keyId, signer);
    return signer;
  }

  /** Deletes a key `generate` made (its rotation did not commit); other keys are never touched. */
  discard(keyId: string): void {
    if (!this.generated.delete(keyId)) return;
    const dir = this.src.keyDir ?? this.src.devKeyDir;
    this.keys.delete(keyId);
    if (dir) rmSync(join(dir, `${keyId}.pem`), { force: true });
  }

  /** At start a broken file is a configuration error; later it is skipped (it was reported then). */
  private scan(strict: boolean): void {
    for (const [name, dir] of [
      ['signing.keyDir', this.src.keyDir],
      ['signing.devKeyDir', this.src.devKeyDir],
    ] as const) {
      if (!dir) continue;
      for (const file of listKeyFiles(dir)) {
        try {
          const signer = new Ed25519Signer(readKey(name, join(dir, file)));
          if (!this.keys.has(signer.keyId)) this.keys.set(signer.keyId, signer);
        } catch (err) {
          if (strict) throw err;
        }
      }
    }
  }
}

function listKeyFiles(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isFile() && KEY_FILE.test(e.name))
      .map((e) => e.name)
      .sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

function devKey(dir: string | undefined): Ed25519Signer | undefined {
  if (!dir) return undefined;
  const file = join(dir, DEV_KEY_FILE);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    const pem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' });
    // 'wx': two replicas sharing the directory must end up with the same key.
    writeFileSync(file, pem, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return new Ed25519Signer(readKey('signing.devKeyDir', file));
}

function readKey(configKey: string, file: string) {
  try {
    return parsePrivateKey(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError([`${configKey}: cannot use ${file} as an ed25519 private key: ${(err as Error).message}`]);
  }
}
