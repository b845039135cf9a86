import { createHash, randomBytes } from 'node:crypto';
import type { Caller } from '../audit/ports.js';
import { TOKEN_MAX_USES_LIMIT, TOKEN_TTL_DEFAULT_S, TOKEN_TTL_MAX_S } from '../domain/enrollment.js';
import { InvalidArgumentError, NotFoundError } from '../domain/errors.js';
import { isValidId } from '../domain/ids.js';
import type { Clock } from './ports.js';
import type { BootstrapTokenStore } from './registry-ports.js';

/** Prefix that makes a leaked token easy to recognise (secret scanners, log redaction). */
export const TOKEN_PREFIX = 'mwbt_';

/** Only this hash of a bootstrap token is stored; enrollment looks tokens up by it. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A fresh token: 32 random bytes, shown once to the caller. */
export function generateToken(random: (n: number) => Buffer = randomBytes): { id: string; token: string } {
  return { id: `bt_${random(8).toString('hex')}`, token: `${TOKEN_PREFIX}${random(32).toString('base64url')}` };
}

export interface TokenRequest {
  siteId: string;
  /** 0: the default (24 h). */
  ttlS: number;
  /** 0: the default (1). */
  maxUses: number;
}

/** Validates a token request and fills defaults; throws InvalidArgumentError naming the field. */
export function validateTokenRequest(r: TokenRequest): { siteId: string; ttlS: number; maxUses: number } {
  if (!r.siteId) throw new InvalidArgumentError('site_id', 'required');
  if (!isValidId(r.siteId)) throw new InvalidArgumentError('site_id', 'not a valid site id');
  const ttlS = r.ttlS || TOKEN_TTL_DEFAULT_S;
  if (ttlS > TOKEN_TTL_MAX_S) throw new InvalidArgumentError('ttl_s', `at most ${TOKEN_TTL_MAX_S} (30 days)`);
  const maxUses = r.maxUses || 1;
  if (maxUses > TOKEN_MAX_USES_LIMIT) throw new InvalidArgumentError('max_uses', `at most ${TOKEN_MAX_USES_LIMIT}`);
  return { siteId: r.siteId, ttlS, maxUses };
}

/** Site-scoped bootstrap tokens with which new agents enrol. */
export class BootstrapTokenService {
  constructor(private readonly deps: { store: BootstrapTokenStore; clock: Clock; random?: (n: number) => Buffer }) {}

  async create(req: TokenRequest, caller: Caller): Promise<{ id: string; token: string; expiresAtMs: number }> {
    const r = validateTokenRequest(req);
    const { id, token } = generateToken(this.deps.random);
    const expiresAtMs = this.deps.clock.now() + r.ttlS * 1000;
    const row = {
      id,
      siteId: r.siteId,
      tokenHash: hashToken(token),
      expiresAtMs,
      maxUses: r.maxUses,
      createdBy: caller.actor,
    };
    const detail = { siteId: r.siteId, expiresAtMs, maxUses: r.maxUses };
    await this.deps.store.createToken(row, { ...caller, action: 'token.create', target: id, detail });
    return { id, token, expiresAtMs };
  }

  async revoke(id: string, caller: Caller): Promise<void> {
    if (!id) throw new InvalidArgumentError('token_id', 'required');
    const audit = { ...caller, action: 'token.revoke', target: id };
    if (!(await this.deps.store.revokeToken(id, this.deps.clock.now(), audit)))
      throw new NotFoundError('bootstrap token', id);
  }
}
