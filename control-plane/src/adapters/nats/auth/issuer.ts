import { readFile, rename, writeFile } from 'node:fs/promises';
import { fromSeed, type KeyPair } from '@nats-io/jwt';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { AgentCredentialIssuer, AgentKeyBinding } from '../../../fleet/credentials.js';
import { encodeMillwrightAccount, encodeMillwrightUser } from './account.js';
import { type AccountLimitOptions, agentUserClaims } from './permissions.js';

export interface JwtIssuerDeps {
  /** The MILLWRIGHT account key pair (from its seed): signs agent user JWTs. */
  account: KeyPair;
  /** The operator key pair: re-signs the account JWT with revocations. Without it revoke only logs. */
  operator?: KeyPair;
  /** A connection as a system-account user, to push account updates; absent: preload file only. */
  system?: () => NatsConnection | undefined;
  /** Every revoked agent key with its revocation time, from PostgreSQL (survives restarts). */
  revoked: () => Promise<{ nkeyPublic: string; atMs: number }[]>;
  /** The resolver_preload include (`accounts.conf` of `mwctl nats init`) whose MILLWRIGHT line is rewritten. */
  preloadFile?: string;
  limits: AccountLimitOptions;
  log: Logger;
  now: () => number;
}

/**
 * Issues each agent a user JWT bound to its own nkey with permissions for its own subjects only
 * (permissions.ts), and cuts decommissioned agents off by revoking their keys in the account JWT.
 */
export class JwtCredentialIssuer implements AgentCredentialIssuer {
  constructor(private readonly deps: JwtIssuerDeps) {}

  static keyPair(seed: string): KeyPair {
    return fromSeed(new TextEncoder().encode(seed.trim()));
  }

  async issue(agent: AgentKeyBinding): Promise<{ natsUserJwt: string }> {
    const claims = agentUserClaims(agent.siteId, agent.agentId);
    return { natsUserJwt: await encodeMillwrightUser(agent.agentId, agent.nkeyPublic, this.deps.account, claims) };
  }

  async revoke(agent: AgentKeyBinding): Promise<void> {
    await this.publishRevocations(agent.agentId);
  }

  /**
   * Re-signs the account JWT with every revocation recorded in PostgreSQL and pushes it; called at
   * decommission, at start and after every reconnect (a restarted MEMORY-resolver server forgets
   * pushed updates), so a revocation outlives restarts of either side.
   */
  async publishRevocations(reason = 'sync'): Promise<void> {
    const { operator } = this.deps;
    if (!operator) {
      this.deps.log.warn({ reason }, 'nats.revocation.no_operator_key: set nats.auth.operatorSeedFile');
      return;
    }
    const revocations = await this.revocationList();
    const jwt = await encodeMillwrightAccount(
      this.deps.account.getPublicKey(),
      operator,
      this.deps.limits,
      revocations,
    );
    await this.writePreload(jwt);
    await this.push(jwt);
    this.deps.log.info({ reason, revoked: Object.keys(revocations).length }, 'nats.account.updated');
  }

  private async revocationList(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    // A revocation covers JWTs issued at or before its second; +1 also covers one issued in the same second.
    for (const r of await this.deps.revoked()) if (r.nkeyPublic) out[r.nkeyPublic] = Math.floor(r.atMs / 1000) + 1;
    return out;
  }

  private async push(jwt: string): Promise<void> {
    const nc = this.deps.system?.();
    if (!nc) return;
    const subject = `$SYS.REQ.ACCOUNT.${this.deps.account.getPublicKey()}.CLAIMS.UPDATE`;
    const reply = await nc.request(subject, new TextEncoder().encode(jwt), { timeout: 5000 });
    const text = new TextDecoder().decode(reply.data);
    if (text.includes('"error"')) throw new Error(`account update refused: ${text.slice(0, 300)}`);
  }

  private async writePreload(jwt: string): Promise<void> {
    const file = this.deps.preloadFile;
    if (!file) return;
    const text = replacePreloadJwt(await readFile(file, 'utf8'), this.deps.account.getPublicKey(), jwt);
    await writeFile(`${file}.tmp`, text, { mode: 0o644 });
    await rename(`${file}.tmp`, file);
  }
}

/** The include with `system_account` and `resolver_preload` that nats-server reads. */
export function preloadConf(systemAccount: string, jwts: Record<string, string>): string {
  const lines = Object.entries(jwts).map(([k, v]) => `  ${k}: ${v}\n`);
  return `system_account: ${systemAccount}\nresolver_preload: {\n${lines.join('')}}\n`;
}

/** Replaces (or adds) the `<account>: <jwt>` line inside `resolver_preload: { … }`. */
export function replacePreloadJwt(conf: string, account: string, jwt: string): string {
  const line = new RegExp(`^\\s*${account}\\s*:.*$`, 'm');
  if (line.test(conf)) return conf.replace(line, `  ${account}: ${jwt}`);
  return conf.replace(/resolver_preload\s*:\s*\{\n/, (m) => `${m}  ${account}: ${jwt}\n`);
}
