import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { IntegrityError } from '../domain/errors.js';
import { writeFileAtomic } from '../fs-atomic.js';
import { loadTrustKeys, parseKeys, type TrustSet, TrustStore } from './trust.js';
import { type SignedTrustBundle, type TrustBundleDecoder, verifyTrustBundle } from './trust-bundle.js';

/** `<dataDir>/trust/trust.json`: what the last accepted bundle said. */
export const TRUST_FILE = join('trust', 'trust.json');

interface Persisted {
  format: 1;
  sequence: number;
  /** key id -> base64 raw public key, from the last accepted bundle. */
  keys: Record<string, string>;
  /** Every key id ever revoked by an accepted bundle: revocation is permanent. */
  revoked: string[];
  /** Base64 of the accepted payload, so the same bundle delivered again is a no-op. */
  payload: string;
  acceptedAtMs: number;
}

/** The outcome of applying a bundle; a refusal names the reason for the state report. */
export type TrustOutcome = { ok: true; changed: boolean } | { ok: false; reason: string };

/** Applies the desired state's trust bundle; the update manager fails the generation on a refusal. */
export interface TrustUpdatePort {
  apply(bundle: SignedTrustBundle): Promise<TrustOutcome>;
}

export interface TrustKeeperDeps {
  dataDir: string;
  /** `trust.keys` of the agent's config (base64 raw ed25519). */
  configKeys: readonly string[];
  decode: TrustBundleDecoder;
  log: Logger;
  now: () => number;
}

/**
 * The agent's trust set: keys pinned in config, keys learnt at enrollment, and the last accepted
 * signed trust bundle (persisted atomically, so it survives restarts and offline periods). Bundle keys
 * add to the pinned ones; revoked keys are removed even when pinned in config, because a compromised
 * key must stop working everywhere at once, whatever an old config file says.
 */
export class TrustKeeper implements TrustUpdatePort {
  private constructor(
    private readonly deps: TrustKeeperDeps,
    private readonly pinned: ReadonlyMap<string, string>,
    private state: Persisted,
    /** The store every verification uses; replaced in place when a bundle is accepted. */
    readonly store: TrustStore,
  ) {}

  /**
   * Loads config, enrollment and persisted keys.
   * @throws ConfigError for a malformed config key or identity file.
   */
  static async open(deps: TrustKeeperDeps): Promise<TrustKeeper> {
    const pinned = parseKeys(await loadTrustKeys(deps.configKeys, deps.dataDir));
    const state = await readState(join(deps.dataDir, TRUST_FILE), deps.log);
    const keeper = new TrustKeeper(deps, pinned, state, TrustStore.fromSet(effective(pinned, state)));
    keeper.warnPinnedRevoked();
    if (state.sequence > 0) {
      deps.log.info({ sequence: state.sequence, keys: keeper.store.keyIds() }, 'trust.bundle.restored');
    }
    return keeper;
  }

  /** Sequence of the bundle in effect; 0 before any. */
  sequence(): number {
    return this.state.sequence;
  }

  async apply(bundle: SignedTrustBundle): Promise<TrustOutcome> {
    const payload = Buffer.from(bundle.payload).toString('base64');
    if (payload === this.state.payload) return { ok: true, changed: false };
    let next: Persisted;
    try {
      const content = verifyTrustBundle(this.store, this.state.sequence, bundle, this.deps.decode);
      next = {
        format: 1,
        sequence: content.sequence,
        keys: Object.fromEntries(content.keys.map((k) => [k.keyId, k.publicKey])),
        revoked: [...new Set([...this.state.revoked, ...content.revokedKeyIds])].sort(),
        payload,
        acceptedAtMs: this.deps.now(),
      };
      if (TrustStore.fromSet(effective(this.pinned, next)).keyIds().length === 0) {
        throw new IntegrityError(`trust bundle ${content.sequence} would leave no trusted key`, {
          reason: 'bad_payload',
        });
      }
    } catch (err) {
      if (!(err instanceof IntegrityError)) throw err;
      const reason = `${String(err.details.reason)}: ${err.message}`;
      // A refused bundle is a security event or a stranded agent: either way a human must look.
      this.deps.log.error({ reason, held: this.state.sequence }, 'trust.bundle.refused');
      return { ok: false, reason };
    }
    return this.accept(next);
  }

  private async accept(next: Persisted): Promise<TrustOutcome> {
    try {
      const path = join(this.deps.dataDir, TRUST_FILE);
      await mkdir(join(this.deps.dataDir, 'trust'), { recursive: true });
      await writeFileAtomic(path, `${JSON.stringify(next, null, 2)}\n`);
    } catch (err) {
      this.deps.log.error({ err }, 'trust.bundle.persist_failed');
      return { ok: false, reason: `cannot persist trust bundle ${next.sequence}: ${(err as Error).message}` };
    }
    this.state = next;
    this.store.replace(effective(this.pinned, next));
    this.deps.log.info(
      { sequence: next.sequence, keys: this.store.keyIds(), revoked: next.revoked },
      'trust.bundle.accepted',
    );
    this.warnPinnedRevoked();
    return { ok: true, changed: true };
  }

  private warnPinnedRevoked(): void {
    const pinnedRevoked = [...this.pinned.keys()].filter((id) => this.store.isRevoked(id));
    if (pinnedRevoked.length > 0) {
      this.deps.log.warn(
        { keyIds: pinnedRevoked },
        'trust.pinned_key_revoked: remove these keys from trust.keys; they stay refused',
      );
    }
  }
}

function effective(pinned: ReadonlyMap<string, string>, state: Persisted): TrustSet {
  return { keys: new Map([...pinned, ...Object.entries(state.keys)]), revoked: new Set(state.revoked) };
}

function emptyState(): Persisted {
  return { format: 1, sequence: 0, keys: {}, revoked: [], payload: '', acceptedAtMs: 0 };
}

/** An unreadable file starts from the pinned keys again; the next desired state brings the bundle back. */
async function readState(path: string, log: Logger): Promise<Persisted> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
    throw err;
  }
  try {
    const p = JSON.parse(text) as Persisted;
    if (p.format !== 1 || typeof p.sequence !== 'number' || !Array.isArray(p.revoked)) throw new Error('bad format');
    parseKeys(Object.values(p.keys), path);
    return { ...emptyState(), ...p };
  } catch (err) {
    log.error({ err, path }, 'trust.state.unreadable');
    return emptyState();
  }
}
