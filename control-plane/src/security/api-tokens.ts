import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Caller } from '../audit/ports.js';
import { ErrorCode, InvalidArgumentError, MillwrightError, NotFoundError } from '../domain/errors.js';
import type { ApiTokenRecord, ApiTokenStore } from './ports.js';
import { isRole, type Role } from './roles.js';

/** Prefix of every API token secret, so scanners and redaction can recognise one. */
export const API_TOKEN_PREFIX = 'mwt_';
export const MAX_TOKEN_TTL_S = 2 * 365 * 24 * 3600;
const MAX_NAME = 100;
const MAX_PAGE = 1000;

/** Who a verified token says the caller is. */
export interface Identity {
  tokenId: string;
  name: string;
  role: Role;
}

/** Why a bearer token was not accepted (the label of `mw_auth_failures_total`). */
export type AuthFailure = 'missing_token' | 'malformed_token' | 'unknown_token' | 'revoked_token' | 'expired_token';

export class AuthenticationError extends MillwrightError {
  constructor(readonly reason: AuthFailure) {
    super(ErrorCode.UNAUTHENTICATED, `authentication failed: ${reason.replace('_', ' ')}`, { reason });
  }
}

export class PermissionDeniedError extends MillwrightError {
  constructor(method: string, role: Role, need: Role | undefined) {
    super(
      ErrorCode.PERMISSION_DENIED,
      need ? `${method} needs role ${need} (caller has ${role})` : `${method} is not open to any role`,
      { method, role, need },
    );
  }
}

/** sha256 hex of a token secret: what is stored and looked up (the secret has 256 random bits). */
export function hashApiToken(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function newApiTokenSecret(): string {
  return `${API_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export interface ApiTokenServiceDeps {
  store: ApiTokenStore;
  now: () => number;
}

/** API tokens: creation (shown once), listing, revocation and verification of bearer tokens. */
export class ApiTokenService {
  constructor(private readonly deps: ApiTokenServiceDeps) {}

  /**
   * @returns the verified identity.
   * @throws AuthenticationError naming why the token is not accepted.
   */
  async authenticate(secret: string | undefined): Promise<Identity> {
    if (!secret) throw new AuthenticationError('missing_token');
    if (!secret.startsWith(API_TOKEN_PREFIX) || secret.length > 200) throw new AuthenticationError('malformed_token');
    const t = await this.deps.store.findByHash(hashApiToken(secret));
    if (!t) throw new AuthenticationError('unknown_token');
    if (t.revokedAtMs !== undefined) throw new AuthenticationError('revoked_token');
    if (t.expiresAtMs !== undefined && t.expiresAtMs <= this.deps.now()) throw new AuthenticationError('expired_token');
    return { tokenId: t.id, name: t.name, role: t.role };
  }

  /** @throws InvalidArgumentError for a bad name, role or ttl. */
  async create(
    req: { name: string; role: string; ttlS: number },
    caller: Caller,
  ): Promise<{ token: ApiTokenRecord; secret: string }> {
    const name = req.name.trim();
    if (!/^[A-Za-z0-9][A-Za-z0-9_.@-]*$/.test(name) || name.length > MAX_NAME)
      throw new InvalidArgumentError('name', `letters, digits, _ . @ - only, at most ${MAX_NAME} characters`);
    if (!isRole(req.role)) throw new InvalidArgumentError('role', 'one of viewer, trainer, platform, admin');
    if (req.ttlS < 0 || req.ttlS > MAX_TOKEN_TTL_S)
      throw new InvalidArgumentError('ttl_s', `between 0 (no expiry) and ${MAX_TOKEN_TTL_S}`);
    const secret = newApiTokenSecret();
    const now = this.deps.now();
    const token = this.record(name, req.role, secret, caller.actor, now, req.ttlS);
    const audit = {
      ...caller,
      action: 'api_token.create',
      target: token.id,
      detail: { name, role: req.role, ttlS: req.ttlS },
    };
    await this.deps.store.insert(token, audit);
    return { token, secret };
  }

  /**
   * Makes sure the token read from `auth.bootstrapAdminTokenFile` exists as an admin token (once;
   * a revoked one stays revoked). @returns true when it was created now.
   */
  async ensureBootstrapAdmin(secret: string, name = 'bootstrap-admin'): Promise<boolean> {
    if (!secret.startsWith(API_TOKEN_PREFIX) || secret.length < API_TOKEN_PREFIX.length + 32)
      throw new InvalidArgumentError(
        'auth.bootstrapAdminTokenFile',
        `must hold a token starting ${API_TOKEN_PREFIX} with at least 32 random characters`,
      );
    const token = this.record(name, 'admin', secret, 'config', this.deps.now(), 0);
    const audit = {
      actor: 'config',
      source: 'auth.bootstrapAdminTokenFile',
      action: 'api_token.bootstrap',
      target: token.id,
      detail: { name },
    };
    return this.deps.store.insertIfAbsent(token, audit);
  }

  async list(
    pageSize: number,
    pageToken: string,
  ): Promise<{ tokens: ApiTokenRecord[]; nextPageToken: string; total: number }> {
    const { limit, offset } = page(pageSize, pageToken);
    const res = await this.deps.store.list(limit, offset);
    const next = offset + res.tokens.length < res.total ? String(offset + res.tokens.length) : '';
    return { tokens: res.tokens, nextPageToken: next, total: res.total };
  }

  /** @throws NotFoundError for an unknown id. */
  async revoke(id: string, caller: Caller): Promise<ApiTokenRecord> {
    const t = await this.deps.store.revoke(id, this.deps.now(), { ...caller, action: 'api_token.revoke', target: id });
    if (!t) throw new NotFoundError('api token', id);
    return t;
  }

  private record(name: string, role: Role, secret: string, by: string, now: number, ttlS: number): ApiTokenRecord {
    return {
      id: randomUUID(),
      name,
      role,
      tokenHash: hashApiToken(secret),
      createdBy: by,
      createdAtMs: now,
      expiresAtMs: ttlS > 0 ? now + ttlS * 1000 : undefined,
      revokedAtMs: undefined,
    };
  }
}

/** Offset pagination with an opaque numeric token. */
export function page(pageSize: number, pageToken: string): { limit: number; offset: number } {
  if (pageSize < 0 || pageSize > MAX_PAGE)
    throw new InvalidArgumentError('page.page_size', `between 0 and ${MAX_PAGE}`);
  if (pageToken && !/^\d{1,9}$/.test(pageToken))
    throw new InvalidArgumentError('page.page_token', 'not a token this server issued');
  return { limit: pageSize || 100, offset: pageToken ? Number(pageToken) : 0 };
}
