import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The agent's identity, obtained once at enrollment and kept under `<dataDir>/identity/`. */
export interface AgentIdentity {
  agentId: string;
  siteId: string;
  nkeyPublic: string;
  /** Artifact signing keys to pin (base64 raw ed25519). */
  trustKeys: string[];
  enrolledAtMs: number;
  /** Path of the NATS .creds file when the control plane issued a user JWT. */
  credsFile: string | undefined;
}

const SECRET = 0o600;

/** Files of the identity: the seed is written before the request, the identity file last (it marks completion). */
export class IdentityFiles {
  readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'identity');
  }

  get seedPath(): string {
    return join(this.dir, 'nkey.seed');
  }

  get credsPath(): string {
    return join(this.dir, 'agent.creds');
  }

  private get identityPath(): string {
    return join(this.dir, 'identity.json');
  }

  async load(): Promise<AgentIdentity | undefined> {
    const text = await readIfExists(this.identityPath);
    return text === undefined ? undefined : (JSON.parse(text) as AgentIdentity);
  }

  async loadSeed(): Promise<string | undefined> {
    return (await readIfExists(this.seedPath))?.trim();
  }

  async saveSeed(seed: string): Promise<void> {
    await this.writeAtomic(this.seedPath, `${seed}\n`, SECRET);
  }

  async saveCreds(jwt: string, seed: string): Promise<string> {
    await this.writeAtomic(this.credsPath, formatCreds(jwt, seed), SECRET);
    return this.credsPath;
  }

  async save(identity: AgentIdentity): Promise<void> {
    await this.writeAtomic(this.identityPath, `${JSON.stringify(identity, null, 2)}\n`, 0o644);
  }

  private async writeAtomic(path: string, text: string, mode: number): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${path}.tmp`;
    await writeFile(tmp, text, { mode });
    // writeFile's mode is masked by the umask; chmod makes 0600 exact.
    await chmod(tmp, mode);
    await rename(tmp, path);
  }
}

/** The standard NATS .creds layout (user JWT + seed), as `nsc` writes it. */
export function formatCreds(jwt: string, seed: string): string {
  return `-----BEGIN NATS USER JWT-----
${jwt}
------END NATS USER JWT------

************************* IMPORTANT *************************
NKEY Seed printed below can be used to sign and prove identity.
NKEYs are sensitive and should be treated as secrets.

-----BEGIN USER NKEY SEED-----
${seed}
------END USER NKEY SEED------

*************************************************************
`;
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
