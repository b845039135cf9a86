import type { Authorizer, Permission, Principal } from './ports.js';

/**
 * The authorizer while API tokens do not exist (security off, e.g. the local demo): every caller is
 * the same operator and may do everything. main-dashboard.ts swaps in the token-checking one.
 */
export const openAuthorizer: Authorizer = {
  async authenticate(): Promise<Principal> {
    return { name: 'operator', role: 'admin' };
  },
  allows: () => true,
};

/**
 * Role -> permissions, for authorizers built on the security feature's roles. A role not listed
 * may only read.
 */
export const ROLE_PERMISSIONS: Readonly<Record<string, readonly Permission[]>> = {
  admin: ['read', 'label', 'rollouts.operate', 'alerts.manage'],
  operator: ['read', 'label', 'rollouts.operate'],
  engineer: ['read', 'label'],
  viewer: ['read'],
};

/** Builds an Authorizer from a token check (the security feature's) and the role table. */
export function roleAuthorizer(
  verify: (token: string) => Promise<Principal | undefined>,
  roles: Readonly<Record<string, readonly Permission[]>> = ROLE_PERMISSIONS,
): Authorizer {
  return {
    authenticate: async (bearer) => (bearer ? verify(bearer) : undefined),
    allows: (p, perm) => perm === 'read' || (roles[p.role] ?? []).includes(perm),
  };
}
