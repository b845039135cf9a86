import type { Logger } from 'pino';
import { InvalidArgumentError, NotFoundError, PreconditionError } from '../domain/errors.js';
import { type Caller, MAX_REASON_CHARS, type TrustBundleData, type TrustKey, type VersionSignature } from './domain.js';
import type { BundleEncoder, PublicKeyRef, Signer, SigningKeyStore, SigningKeyTx } from './ports.js';
import { signBundle } from './trust-bundle.js';

/** The private keys a replica holds (`Keyring`). */
export interface KeyHolder {
  initial(): (Signer & PublicKeyRef) | undefined;
  get(keyId: string): (Signer & PublicKeyRef) | undefined;
  /** @throws PreconditionError when there is nowhere to put a new key. */
  generate(): Signer & PublicKeyRef;
  /** Deletes a key `generate` made that never became known (its rotation failed). */
  discard(keyId: string): void;
}

export interface SigningKeyDeps {
  store: SigningKeyStore;
  keys: KeyHolder;
  encodeBundle: BundleEncoder;
  now: () => number;
  log: Logger;
}

/** What a rotation or revocation did. */
export interface KeyChange {
  key: TrustKey;
  previous: TrustKey | undefined;
  bundleSequence: number;
  /** `model@version` re-signed with the active key. */
  resignedVersions: string[];
  /** Agents whose desired state was re-issued (written to KV in the background after the reply). */
  agents: number;
  /** `model@version` now signed only by revoked keys (first 100). */
  unusableVersions: string[];
}

const KEY_ID = /^[0-9a-f]{16}$/;
const UNUSABLE_LISTED = 100;
/** A rotation by the same actor with the same reason within this window is taken for a retry. */
export const ROTATE_RETRY_WINDOW_MS = 60_000;

/**
 * Signing-key rotation and revocation. Each change, in one transaction: the key table, re-signatures
 * of versions agents may still need (same signed bytes, active key), a new trust bundle signed by every
 * key this replica holds (old and revoked ones too, so an agent that only knows an old key still
 * learns the newest set), every agent's desired state re-issued to carry it, and the audit entry.
 */
export class SigningKeyService {
  private publishDesired: (() => Promise<void>) | undefined;
  private publishing: Promise<void> = Promise.resolve();

  constructor(private readonly deps: SigningKeyDeps) {}

  /**
   * How re-issued desired states reach the KV (the rollouts' writer), run in the background after a
   * change commits. Without it, or when it fails, the rollout controller's repair pass writes them a
   * few seconds later.
   */
  setDesiredPublisher(fn: () => Promise<void>): void {
    this.publishDesired = fn;
  }

  /** Resolves once the background KV writes started so far are done (shutdown, tests). */
  settled(): Promise<void> {
    return this.publishing;
  }

  /** Queues one publish of the pending desired states; the RPC does not wait for 100k KV writes. */
  private deliver(agents: number): void {
    const publish = this.publishDesired;
    if (agents === 0 || !publish) return;
    this.publishing = this.publishing.then(() =>
      publish().catch((err: unknown) => this.deps.log.warn({ err, agents }, 'registry.trust.publish_deferred')),
    );
  }

  /** On a database without an active key, the configured key becomes active; logs which key signs. */
  async init(): Promise<void> {
    const { keys, store, log } = this.deps;
    const initial = keys.initial();
    const active = initial ? await store.adoptInitialKey(initial, this.deps.now()) : await store.activeKeyId();
    if (!active) return log.warn('registry.signing_key.missing: set signing.keyFile; uploads are refused');
    if (!keys.get(active)) {
      log.warn({ keyId: active }, 'registry.signing_key.not_held: add the active key to signing.keyDir');
    } else log.info({ keyId: active }, 'registry.signing_key.active');
    if (initial && initial.keyId !== active) {
      log.info({ keyId: initial.keyId, active }, 'registry.signing_key.configured_not_active');
    }
  }

  /**
   * The signer of the active key, `activeKeyId` when the caller read it under a lock.
   * @throws PreconditionError when no key is active or this replica does not hold the active key.
   */
  async activeSigner(activeKeyId?: string): Promise<Signer> {
    const id = activeKeyId ?? (await this.deps.store.activeKeyId());
    if (!id) throw new PreconditionError('no signing key is configured (signing.keyFile)', { field: 'signing' });
    const signer = this.deps.keys.get(id);
    if (!signer) {
      throw new PreconditionError(
        `the active signing key ${id} is not held by this replica: add its private key to signing.keyDir (the same secret or volume on every replica)`,
        { field: 'signing' },
      );
    }
    return signer;
  }

  latestBundle(): Promise<TrustBundleData | undefined> {
    return this.deps.store.latestBundle();
  }

  /**
   * Makes `keyId` (a key this replica holds) or a newly generated key the active signing key. A key is
   * generated only once every check passed, and its file is deleted again when the change fails.
   * @throws PreconditionError when the key is unknown here, revoked or already active, when this
   *   replica does not hold the current key (agents that only trust it would be stranded), when there
   *   is no key directory to generate into, or when the same actor made a rotation with the same
   *   reason in the last minute (a retry: it would create yet another key).
   */
  async rotate(req: { keyId: string; reason: string }, caller: Caller): Promise<KeyChange> {
    checkReason(req.reason);
    if (req.keyId) {
      checkKeyId(req.keyId);
      this.held(req.keyId);
    }
    let generated: string | undefined;
    try {
      const change = await this.deps.store.transaction(async (tx) => {
        const keys = await tx.lockKeys();
        await tx.lockDesiredStates();
        await this.refuseRetry(tx, req.reason, caller);
        const previous = keys.find((k) => k.active);
        if (previous && !this.deps.keys.get(previous.keyId)) {
          throw new PreconditionError(
            `the current signing key ${previous.keyId} is not held by this replica: agents that trust only it would never accept the new key`,
            { field: 'key_id' },
          );
        }
        const known = req.keyId ? keys.find((k) => k.keyId === req.keyId) : undefined;
        if (known?.revokedAtMs) throw new PreconditionError(`signing key ${req.keyId} is revoked`, { field: 'key_id' });
        if (req.keyId && previous?.keyId === req.keyId) {
          throw new PreconditionError(`signing key ${req.keyId} is already active`, { field: 'key_id' });
        }
        let next: Signer & PublicKeyRef;
        if (req.keyId) next = this.held(req.keyId);
        else {
          next = this.deps.keys.generate();
          generated = next.keyId;
        }
        await tx.activate({ keyId: next.keyId, publicKey: next.publicKey }, this.deps.now());
        return this.finish(tx, 'signing_key.rotate', next.keyId, previous, req.reason, caller);
      });
      this.deliver(change.agents);
      return change;
    } catch (err) {
      if (generated) await this.discard(generated);
      throw err;
    }
  }

  /** Deletes a generated key whose rotation failed, unless it became active after all (a lost commit reply). */
  private async discard(keyId: string): Promise<void> {
    try {
      if ((await this.deps.store.activeKeyId()) === keyId) return;
      this.deps.keys.discard(keyId);
      this.deps.log.info({ keyId }, 'registry.signing_key.discarded');
    } catch (err) {
      this.deps.log.warn({ err, keyId }, 'registry.signing_key.discard_failed');
    }
  }

  /** A client retrying a rotation whose reply it lost must not create a second key. */
  private async refuseRetry(tx: SigningKeyTx, reason: string, caller: Caller): Promise<void> {
    const now = this.deps.now();
    const action = 'signing_key.rotate';
    const last = await tx.recentChange({ action, actor: caller.actor, reason, sinceMs: now - ROTATE_RETRY_WINDOW_MS });
    if (!last) return;
    throw new PreconditionError(
      `${caller.actor} already rotated with this reason ${Math.max(0, Math.round((now - last.atMs) / 1000))} s ago (${last.target}): ` +
        'taken for a retry, nothing changed; give another --reason to rotate again',
      { field: 'reason' },
    );
  }

  /**
   * Revokes an inactive key: agents refuse anything signed by it from their next desired state on.
   * @throws NotFoundError for an unknown key; PreconditionError for the active or a revoked key.
   */
  async revoke(req: { keyId: string; reason: string }, caller: Caller): Promise<KeyChange> {
    checkReason(req.reason);
    checkKeyId(req.keyId);
    const change = await this.deps.store.transaction(async (tx) => {
      const keys = await tx.lockKeys();
      await tx.lockDesiredStates();
      const key = keys.find((k) => k.keyId === req.keyId);
      if (!key) throw new NotFoundError('signing key', req.keyId);
      if (key.revokedAtMs) {
        throw new PreconditionError(`signing key ${req.keyId} is already revoked (${key.revokedReason})`, {
          field: 'key_id',
        });
      }
      if (key.active) {
        throw new PreconditionError(
          `signing key ${req.keyId} is the active signing key: rotate to a new key first (mwctl models keys rotate), then revoke it`,
          { field: 'key_id' },
        );
      }
      await tx.revoke(req.keyId, this.deps.now(), req.reason);
      return this.finish(tx, 'signing_key.revoke', req.keyId, undefined, req.reason, caller);
    });
    this.deliver(change.agents);
    return change;
  }

  /**
   * Gives agents without a desired state (enrolled since the last key change) one carrying the newest
   * bundle, so a key pinned in their config but revoked since stops working for them too.
   */
  async sweep(): Promise<number> {
    if (!(await this.deps.store.latestBundle())) return 0;
    const reason = 'trust bundle for a new agent';
    const n = await this.deps.store.transaction((tx) =>
      tx.reissueDesired(new Map(), { reason, atMs: this.deps.now(), missingOnly: true }),
    );
    if (n > 0) this.deps.log.info({ agents: n }, 'registry.trust.sweep');
    this.deliver(n);
    return n;
  }

  private held(keyId: string): Signer & PublicKeyRef {
    const signer = this.deps.keys.get(keyId);
    if (!signer) {
      throw new PreconditionError(
        `signing key ${keyId} is not held by this replica: provision its private key into signing.keyDir on every replica (a shared secret or volume) first`,
        { field: 'key_id' },
      );
    }
    return signer;
  }

  private async finish(
    tx: SigningKeyTx,
    action: string,
    keyId: string,
    previous: TrustKey | undefined,
    reason: string,
    caller: Caller,
  ): Promise<KeyChange> {
    const now = this.deps.now();
    const keys = await tx.lockKeys();
    const active = keys.find((k) => k.active);
    const signer = active && this.deps.keys.get(active.keyId);
    if (!active || !signer) {
      throw new PreconditionError('this replica does not hold the active signing key', { field: 'signing' });
    }
    const { versions, resigned } = await this.resign(tx, signer);
    const revoked = keys.filter((k) => k.revokedAtMs).map((k) => k.keyId);
    const sequence = await tx.nextBundleSequence();
    const signers = [signer, ...keys.filter((k) => k !== active).flatMap((k) => this.deps.keys.get(k.keyId) ?? [])];
    const bundle = signBundle(
      { sequence, keys: keys.filter((k) => !k.revokedAtMs), revokedKeyIds: revoked, issuedAtMs: now },
      this.deps.encodeBundle,
      signers,
    );
    await tx.insertBundle(bundle, { actor: caller.actor, reason, atMs: now });
    const agents = await tx.reissueDesired(resigned, { reason: `trust bundle ${sequence}: ${action}`, atMs: now });
    const unusableVersions = revoked.length > 0 ? await tx.versionsSignedBy(revoked, UNUSABLE_LISTED) : [];
    const signedBy = bundle.signatures.map((s) => s.keyId);
    await tx.appendAudit({
      ...caller,
      action,
      target: `signing_key/${keyId}`,
      detail: { previous: previous?.keyId ?? '', bundleSequence: sequence, signedBy, resigned: versions, agents },
      reason,
      atMs: now,
    });
    this.deps.log.info(
      { action, keyId, bundleSequence: sequence, signedBy, resigned: versions.length, agents },
      'registry.trust.bundle_issued',
    );
    const key = keys.find((k) => k.keyId === keyId)!;
    return { key, previous, bundleSequence: sequence, resignedVersions: versions, agents, unusableVersions };
  }

  /** Re-signs the same bytes with the active key: the manifest, digest and rollback flags stay as signed. */
  private async resign(tx: SigningKeyTx, signer: Signer) {
    const stale = await tx.staleSignatures(signer.keyId);
    const resigned = new Map<string, VersionSignature>();
    const resignOf = (sig: VersionSignature): VersionSignature => {
      const known = resigned.get(sig.payload);
      if (known) return known;
      const payload = Buffer.from(sig.payload, 'base64');
      const next = {
        keyId: signer.keyId,
        signature: Buffer.from(signer.sign(payload)).toString('base64'),
        payload: sig.payload,
      };
      resigned.set(sig.payload, next);
      return next;
    };
    for (const v of stale.versions) await tx.setVersionSignature(v.model, v.version, resignOf(v.signature));
    for (const sig of stale.desired) resignOf(sig);
    return { versions: stale.versions.map((v) => `${v.model}@${v.version}`).sort(), resigned };
  }
}

function checkReason(reason: string): void {
  if (!reason.trim()) throw new InvalidArgumentError('reason', 'required: say why (it is audited)');
  if (reason.length > MAX_REASON_CHARS)
    throw new InvalidArgumentError('reason', `at most ${MAX_REASON_CHARS} characters`);
}

function checkKeyId(keyId: string): void {
  if (!KEY_ID.test(keyId)) throw new InvalidArgumentError('key_id', 'must be 16 lower-case hex characters');
}
