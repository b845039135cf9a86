import type { Logger } from 'pino';
import { EnrollmentRefusedError, IdentityMismatchError } from './errors.js';
import { type AgentIdentity, IdentityFiles } from './identity.js';
import type { EnrollClient, EnrollRequestData, UserKeys } from './ports.js';

export interface EnrollSettings {
  enabled: boolean;
  bootstrapToken?: string | undefined;
  timeoutMs: number;
}

export interface EnrollDeps {
  dataDir: string;
  /** Who the config says this agent is. */
  agent: { agentId: string; siteId: string; lineId: string; labels: Record<string, string>; agentVersion: string };
  settings: EnrollSettings;
  client: EnrollClient;
  keys: UserKeys;
  log: Logger;
  now: () => number;
  /** Waits between attempts while the control plane is unreachable. */
  sleep?: (ms: number) => Promise<void>;
  /** Stop retrying after this many failed attempts. @default unbounded */
  maxAttempts?: number;
}

/**
 * The agent's identity: the stored one, or, on first start with a bootstrap token, a new one from
 * enrollment. Restarts never enrol again. Undefined when nothing is stored and enrollment is off
 * or has no token (the agent then uses the NATS settings from its config).
 * @throws EnrollmentRefusedError when the control plane refuses; IdentityMismatchError when the
 * stored identity is another agent's.
 */
export async function ensureIdentity(deps: EnrollDeps): Promise<AgentIdentity | undefined> {
  const files = new IdentityFiles(deps.dataDir);
  const stored = await files.load();
  if (stored) return checked(stored, deps);
  if (!deps.settings.enabled || !deps.settings.bootstrapToken) return undefined;
  return enroll(deps, files, deps.settings.bootstrapToken);
}

function checked(stored: AgentIdentity, deps: EnrollDeps): AgentIdentity {
  const { agentId, siteId } = deps.agent;
  if (stored.agentId !== agentId || stored.siteId !== siteId)
    throw new IdentityMismatchError(stored, { agentId, siteId });
  return stored;
}

async function enroll(deps: EnrollDeps, files: IdentityFiles, bootstrapToken: string): Promise<AgentIdentity> {
  // The seed is kept before asking: a crash after the control plane recorded us re-enrols with the same key.
  const seed = (await files.loadSeed()) ?? (await newSeed(deps.keys, files));
  const nkeyPublic = deps.keys.publicKeyOf(seed);
  const req: EnrollRequestData = { ...deps.agent, bootstrapToken, nkeyPublic };
  const reply = await requestWithRetry(deps, req);
  if (!reply.ok) throw new EnrollmentRefusedError(reply.error);
  const credsFile = reply.natsUserJwt ? await files.saveCreds(reply.natsUserJwt, seed) : undefined;
  const identity = {
    agentId: reply.agentId,
    siteId: reply.siteId,
    nkeyPublic,
    trustKeys: reply.trustKeys,
    enrolledAtMs: deps.now(),
    credsFile,
  };
  checked(identity, deps);
  await files.save(identity);
  deps.log.info(
    { agentId: identity.agentId, trustKeys: identity.trustKeys.length, creds: Boolean(credsFile) },
    'agent.enrolled',
  );
  return identity;
}

async function newSeed(keys: UserKeys, files: IdentityFiles): Promise<string> {
  const { seed } = keys.create();
  await files.saveSeed(seed);
  return seed;
}

async function requestWithRetry(deps: EnrollDeps, req: EnrollRequestData) {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let attempt = 1; ; attempt++) {
    try {
      return await deps.client.enroll(req, deps.settings.timeoutMs);
    } catch (err) {
      if (attempt >= (deps.maxAttempts ?? Number.POSITIVE_INFINITY)) throw err;
      const waitMs = Math.min(30_000, 1000 * 2 ** Math.min(attempt - 1, 5));
      deps.log.warn({ err, attempt, waitMs }, 'agent.enroll.retry');
      await sleep(waitMs);
    }
  }
}
