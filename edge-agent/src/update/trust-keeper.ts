import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { IntegrityError } from '../domain/errors.js';
import { writeFileAtomic } from '../fs-atomic.js';
import { loadTrustKeys, parseKeys, type TrustSet, TrustStore } from './trust.js';
import { type SignedTrustBundle, type TrustBundleDecoder, verifyTrustBundle } from './trust-bundle.js';
import { appendJournal, type JournalContent, payloadSha256, readJournal, TRUST_JOURNAL_FILE } from './trust-journal.js';

/** `<dataDir>/trust/trust.json`: what the last accepted bundle said. */
export const TRUST_FILE = join('trust', 'trust.json');

interface Persisted {
  format: 1;
  sequence: number;
  /** key id -> base64 raw public key, from the last accepted bundle. */
  keys: Record<string, string>;
  /** Every key id ever revoked by an accepted bundle: revocation is permanent. */
  revoked: string[];
  /** Public keys of revoked keys where known: for restoring the last model only (`TrustStore.verifyRevoked`). */
  revokedKeys?: Record<string, string>;
  /** Base64 of the accepted payload, so the same bundle delivered again is a no-op. */
  payload: string;
  acceptedAtMs: number;
}

/**
 * The outcome of applying a bundle. `stale`: validly signed but not newer than the bundle in effect
 * (replayed, or a control plane restored from an older backup): ignored, the newer set stays. A refusal
 * names the reason for the state report.
 */
export type TrustOutcome = { ok: true; changed: boolean; stale?: boolean } | { ok: false; reason: string };

/** Applies the desired state's trust bundle; the update manager fails the generation on a refusal. */
export interface TrustUpdatePort {
  apply(bundle: SignedTrustBundle): Promise<TrustOutcome>;
  /**
   * Why model installs and switches are refused now: the trust state could not be read at start, so
   * what this agent revoked or trusts may be incomplete, until a bundle is accepted again.
   */
  blocked(): string | undefined;
}

export interface TrustKeeperDeps {
  dataDir: string;
  /** `trust.keys` of the agent's config (base64 raw ed25519). */
  configKeys: readonly string[];
  decode: TrustBundleDecoder;
  log: Logger;
  now: () => number;
}

/** The state from `trust.json`, or why there is none that can be trusted. */
type StateRead = { state: Persisted } | { missing: true } | { unreadable: string };

/**
 * The agent's trust set: keys pinned in config, keys learnt at enrollment, and the last accepted
 * signed trust bundle (persisted atomically, so it survives restarts and offline periods). Bundle keys
 * add to the pinned ones; revoked keys are removed even when pinned in config, because a compromised
 * key must stop working everywhere at once, whatever an old config file says. Every acceptance is also
 * appended to a journal first (`trust-journal.ts`): if `trust.json` is lost the revocations are not, and
 * the agent fails closed (`blocked`) until a bundle is accepted again.
 */
export class TrustKeeper implements TrustUpdatePort {
  private lastStale = '';

  private constructor(
    private readonly deps: TrustKeeperDeps,
    private readonly pinned: ReadonlyMap<string, string>,
    private state: Persisted,
    private readonly journal: JournalContent,
    private blockedReason: string | undefined,
    /** The store every verification uses; replaced in place when a bundle is accepted. */
    readonly store: TrustStore,
  ) {}

  /**
   * Loads config, enrollment and persisted keys. An unreadable trust state does not stop the agent: it
   * starts from the pinned keys minus the journal's revocations, with installs blocked.
   * @throws ConfigError for a malformed config key or identity file.
   */
  static async open(deps: TrustKeeperDeps): Promise<TrustKeeper> {
    const pinned = parseKeys(await loadTrustKeys(deps.configKeys, deps.dataDir));
    const journal = await openJournal(deps);
    const read = await readState(join(deps.dataDir, TRUST_FILE));
    const blocked = blockedBy(read, journal);
    const state = 'state' in read ? withJournal(read.state, journal) : fromJournal(journal);
    const keeper = new TrustKeeper(deps, pinned, state, journal, blocked, TrustStore.fromSet(effective(pinned, state)));
    keeper.warnPinnedRevoked();
    if (blocked) {
      deps.log.error({ reason: blocked, revoked: state.revoked }, 'trust.state.unreadable');
    } else if (state.sequence > 0) {
      deps.log.info({ sequence: state.sequence, keys: keeper.store.keyIds() }, 'trust.bundle.restored');
      await keeper.backfillJournal();
    }
    return keeper;
  }

  /** Sequence of the bundle in effect; 0 before any. */
  sequence(): number {
    return this.state.sequence;
  }

  blocked(): string | undefined {
    return this.blockedReason;
  }

  async apply(bundle: SignedTrustBundle): Promise<TrustOutcome> {
    const payload = Buffer.from(bundle.payload).toString('base64');
    if (payload === this.state.payload) return { ok: true, changed: false };
    let next: Persisted;
    try {
      const content = verifyTrustBundle(this.store, this.heldSequence(bundle), bundle, this.deps.decode);
      next = {
        format: 1,
        sequence: content.sequence,
        keys: Object.fromEntries(content.keys.map((k) => [k.keyId, k.publicKey])),
        revoked: [...new Set([...this.state.revoked, ...content.revokedKeyIds])].sort(),
        revokedKeys: this.revokedKeysAfter(content.revokedKeyIds),
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
      if (err.details.reason === 'stale_bundle') return this.ignoreStale(payload, err);
      const reason = `${String(err.details.reason)}: ${err.message}`;
      // A refused bundle is a security event or a stranded agent: either way a human must look.
      this.deps.log.error({ reason, held: this.state.sequence }, 'trust.bundle.refused');
      return { ok: false, reason };
    }
    return this.accept(next, bundle.payload);
  }

  /**
   * While blocked, the bundle the journal last recorded is accepted again (same sequence, same bytes),
   * so the agent recovers without waiting for the next key change; anything older stays stale.
   */
  private heldSequence(bundle: SignedTrustBundle): number {
    const last = this.journal.last;
    const again = this.blockedReason && last && payloadSha256(bundle.payload) === last.sha256;
    return again ? last.sequence - 1 : this.state.sequence;
  }

  /**
   * A genuine but older bundle (replay, or a control plane restored from a backup) must not fail every
   * desired state fleet-wide: the newer set in effect stays, and the desired state goes on.
   */
  private ignoreStale(payload: string, err: IntegrityError): TrustOutcome {
    if (payload !== this.lastStale) {
      this.lastStale = payload;
      this.deps.log.warn(
        { sequence: err.details.sequence, held: this.state.sequence, reason: err.message },
        'trust.bundle.stale_ignored',
      );
    }
    return { ok: true, changed: false, stale: true };
  }

  private revokedKeysAfter(revokedIds: readonly string[]): Record<string, string> {
    const known = new Map([...this.pinned, ...Object.entries(this.state.keys), ...this.journal.keys]);
    const out = { ...this.state.revokedKeys };
    for (const id of revokedIds) {
      const pub = known.get(id);
      if (pub && !out[id]) out[id] = pub;
    }
    return out;
  }

  private async accept(next: Persisted, payload: Uint8Array): Promise<TrustOutcome> {
    try {
      await mkdir(join(this.deps.dataDir, 'trust'), { recursive: true });
      // The journal first: a crash between the two leaves revocations recorded, never the reverse.
      await this.appendToJournal(next, payloadSha256(payload));
      await writeFileAtomic(join(this.deps.dataDir, TRUST_FILE), `${JSON.stringify(next, null, 2)}\n`);
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
    if (this.blockedReason) {
      this.deps.log.info({ sequence: next.sequence }, 'trust.state.recovered');
      this.blockedReason = undefined;
    }
    this.warnPinnedRevoked();
    return { ok: true, changed: true };
  }

  /** Appends what the journal does not hold yet: new keys and revocations, then the bundle. */
  private async appendToJournal(next: Persisted, sha256: string | undefined): Promise<void> {
    const j = this.journal;
    const keys = Object.entries(next.keys).filter(([id]) => !j.keys.has(id));
    const revoked = next.revoked.filter((id) => !j.revoked.has(id) || (!j.revoked.get(id) && next.revokedKeys?.[id]));
    const lines = [
      ...keys.map(([id, pub]) => `key ${id} ${pub}`),
      ...revoked.map((id) => `revoked ${id} ${next.revokedKeys?.[id] ?? ''}`.trimEnd()),
      ...(sha256 ? [`bundle ${next.sequence} ${sha256}`] : []),
    ];
    if (lines.length === 0) return;
    await appendJournal(join(this.deps.dataDir, TRUST_JOURNAL_FILE), lines);
    for (const [id, pub] of keys) j.keys.set(id, pub);
    for (const id of revoked) j.revoked.set(id, next.revokedKeys?.[id] ?? '');
    if (sha256) j.last = { sequence: next.sequence, sha256 };
  }

  /** An agent upgraded from before the journal existed records what `trust.json` holds at once. */
  private async backfillJournal(): Promise<void> {
    const behind = (this.journal.last?.sequence ?? 0) < this.state.sequence;
    const sha = behind ? payloadSha256(Buffer.from(this.state.payload, 'base64')) : undefined;
    await this.appendToJournal(this.state, sha).catch((err: unknown) =>
      this.deps.log.error({ err }, 'trust.journal.append_failed'),
    );
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
  return {
    keys: new Map([...pinned, ...Object.entries(state.keys)]),
    revoked: new Set(state.revoked),
    retired: new Map(Object.entries(state.revokedKeys ?? {})),
  };
}

function emptyState(): Persisted {
  return { format: 1, sequence: 0, keys: {}, revoked: [], revokedKeys: {}, payload: '', acceptedAtMs: 0 };
}

/** Fail closed: with `trust.json` unreadable, or lost after the journal shows a bundle was accepted. */
function blockedBy(read: StateRead, journal: JournalContent): string | undefined {
  if ('unreadable' in read) return `trust state unreadable (${read.unreadable})`;
  if ('missing' in read && journal.exists) {
    return `trust state missing although bundle ${journal.last?.sequence ?? '?'} was accepted (journal)`;
  }
  return undefined;
}

/** The journal's revocations always count, even where `trust.json` is older (crash between the two). */
function withJournal(state: Persisted, journal: JournalContent): Persisted {
  const revokedKeys = { ...state.revokedKeys };
  for (const [id, pub] of journal.revoked) if (pub && !revokedKeys[id]) revokedKeys[id] = pub;
  return { ...state, revoked: [...new Set([...state.revoked, ...journal.revoked.keys()])].sort(), revokedKeys };
}

/**
 * What the journal alone says: every key learnt and not revoked, the revocations, and the sequence of the
 * last bundle (no payload, so that bundle is accepted again: `heldSequence`).
 */
function fromJournal(journal: JournalContent): Persisted {
  const keys = [...journal.keys].filter(([id]) => !journal.revoked.has(id));
  const revokedKeys = [...journal.revoked].filter(([, pub]) => pub !== '');
  return {
    ...emptyState(),
    sequence: journal.last?.sequence ?? 0,
    keys: Object.fromEntries(keys),
    revoked: [...journal.revoked.keys()].sort(),
    revokedKeys: Object.fromEntries(revokedKeys),
  };
}

/** An unreadable journal counts as one that exists (a bundle may have been accepted): fail closed. */
async function openJournal(deps: TrustKeeperDeps): Promise<JournalContent> {
  try {
    return await readJournal(join(deps.dataDir, TRUST_JOURNAL_FILE));
  } catch (err) {
    deps.log.error({ err }, 'trust.journal.unreadable');
    return { exists: true, keys: new Map(), revoked: new Map() };
  }
}

async function readState(path: string): Promise<StateRead> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { missing: true };
    return { unreadable: (err as Error).message };
  }
  try {
    const p = JSON.parse(text) as Persisted;
    if (p.format !== 1 || typeof p.sequence !== 'number' || !Array.isArray(p.revoked)) throw new Error('bad format');
    parseKeys(Object.values(p.keys), path);
    parseKeys(Object.values(p.revokedKeys ?? {}), path);
    return { state: { ...emptyState(), ...p } };
  } catch (err) {
    return { unreadable: (err as Error).message };
  }
}
