import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { REPO_ROOT } from '../harness/index.js';

interface KeyPair {
  getPublicKey(): string;
  getSeed(): Uint8Array;
}

interface JwtLib {
  createOperator(): KeyPair;
  createAccount(): KeyPair;
  createUser(): KeyPair;
  encodeOperator(name: string, kp: KeyPair, claims?: Record<string, unknown>): Promise<string>;
  encodeAccount(
    name: string,
    kp: KeyPair,
    claims?: Record<string, unknown>,
    opts?: { signer: KeyPair },
  ): Promise<string>;
  encodeUser(name: string, kp: KeyPair, issuer: KeyPair, claims?: Record<string, unknown>): Promise<string>;
  fmtCreds(jwt: string, kp: KeyPair): Uint8Array;
}

/**
 * `@nats-io/jwt`, borrowed from the control plane (its dependency; the test package does not list it).
 * It is the library TOOLCHAIN.md found to produce JWTs nats-server 2.9.10 accepts.
 */
const jwt = createRequire(join(REPO_ROOT, 'control-plane/package.json'))('@nats-io/jwt') as JwtLib;

export interface GeneratedAuth {
  /** The directory that stands in for /etc/nats/auth. */
  dir: string;
  accountPublicKey: string;
  creds: { controlPlane: string; plantGateway: string; agent: string; plantClient: string };
}

/**
 * What the account tooling writes into /etc/nats/auth for deploy/nats: operator.jwt, accounts.conf
 * for the hub (system account + resolver preload of SYS and MILLWRIGHT), plant.conf for a gateway
 * (the same, with MILLWRIGHT's JWT minus JetStream limits, and the JetStream domain mapping keyed by
 * the account's public key) and .creds files.
 */
export async function generateAuth(dir: string, agent: { site: string; id: string }): Promise<GeneratedAuth> {
  await mkdir(dir, { recursive: true });
  const op = jwt.createOperator();
  const sys = jwt.createAccount();
  const mw = jwt.createAccount();
  await writeFile(
    join(dir, 'operator.jwt'),
    await jwt.encodeOperator('millwright', op, { system_account: sys.getPublicKey() }),
  );
  const sysJwt = await jwt.encodeAccount('SYS', sys, {}, { signer: op });
  // Passing `limits` replaces the library's defaults, so the NATS limits are spelled out (left out,
  // connections and subscriptions are capped at zero).
  const nats = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
  // encodeAccount sets no JetStream limits (TOOLCHAIN.md): without them JetStream is off for the
  // account. JetStream reserves max_bytes x replicas against disk_storage: MW_RECORDS (8 GiB) and
  // MW_DLQ (1 GiB) at R3 need 27 GiB.
  const js = { mem_storage: 512 * 1024 ** 2, disk_storage: 40 * 1024 ** 3, streams: 64, consumer: 1024 };
  const mwJwt = await jwt.encodeAccount('MILLWRIGHT', mw, { limits: { ...nats, ...js } }, { signer: op });
  // The gateway's copy of the same account has no JetStream limits: nats-server skips
  // default_js_domain for an account it believes has JetStream ("Skipping Default Domain").
  const mwPlantJwt = await jwt.encodeAccount('MILLWRIGHT', mw, { limits: nats }, { signer: op });
  const preload = (jwts: Record<string, string>) =>
    `system_account: ${sys.getPublicKey()}\nresolver_preload: {\n${Object.entries(jwts)
      .map(([k, v]) => `  ${k}: ${v}\n`)
      .join('')}}\n`;
  await writeFile(join(dir, 'accounts.conf'), preload({ [sys.getPublicKey()]: sysJwt, [mw.getPublicKey()]: mwJwt }));
  await writeFile(
    join(dir, 'plant.conf'),
    `${preload({ [sys.getPublicKey()]: sysJwt, [mw.getPublicKey()]: mwPlantJwt })}default_js_domain: { ${mw.getPublicKey()}: hub }\n`,
  );
  const user = async (name: string, file: string, claims: Record<string, unknown> = {}) => {
    const kp = jwt.createUser();
    const path = join(dir, file);
    await writeFile(path, jwt.fmtCreds(await jwt.encodeUser(name, kp, mw, claims), kp), { mode: 0o600 });
    return path;
  };
  const agentPrefix = `mw.v1.edge.${agent.site}.${agent.id}`;
  return {
    dir,
    accountPublicKey: mw.getPublicKey(),
    creds: {
      controlPlane: await user('control-plane', 'control-plane.creds'),
      plantGateway: await user('plant-gateway', 'plant-gateway.creds'),
      // Confined to its own subjects, as issued at enrollment (security issue); enforced at the leaf.
      agent: await user(agent.id, `${agent.id}.creds`, {
        pub: { allow: [`${agentPrefix}.>`] },
        sub: { allow: [`_INBOX_${agent.id}.>`] },
      }),
      plantClient: await user('plant-client', 'plant-client.creds'),
    },
  };
}
