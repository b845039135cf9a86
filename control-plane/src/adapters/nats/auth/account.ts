import type { KeyPair } from '@nats-io/jwt';
import { encodeAccount, encodeUser, fmtCreds } from '@nats-io/jwt';
import { type AccountLimitOptions, accountLimits, type UserClaims } from './permissions.js';

export const ACCOUNT_NAME = 'MILLWRIGHT';

/**
 * The MILLWRIGHT account JWT signed by the operator, with explicit limits and the revocation list
 * (user public key -> unix seconds; JWTs issued at or before that second are refused).
 */
export function encodeMillwrightAccount(
  accountPublicKey: string,
  operator: KeyPair,
  limits: AccountLimitOptions,
  revocations: Record<string, number> = {},
): Promise<string> {
  return encodeAccount(
    ACCOUNT_NAME,
    accountPublicKey,
    { limits: accountLimits(limits), ...(Object.keys(revocations).length > 0 ? { revocations } : {}) },
    { signer: operator },
  );
}

/** A user JWT of the MILLWRIGHT account bound to `userPublicKey`. */
export function encodeMillwrightUser(
  name: string,
  userPublicKey: string,
  account: KeyPair,
  claims?: UserClaims,
): Promise<string> {
  return encodeUser(name, userPublicKey, account, claims ?? {});
}

/** `.creds` text: JWT plus seed (only for users whose seed we generated ourselves). */
export function credsText(jwt: string, user: KeyPair): string {
  return new TextDecoder().decode(fmtCreds(jwt, user));
}
