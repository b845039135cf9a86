import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type GeneratedNatsAuth, generateNatsAuth } from '@millwright/control-plane/adapters/nats/auth/init.js';
import { subjects } from '@millwright/proto';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import {
  type ControlPlaneProcess,
  type ManagedProcess,
  mwctl,
  NatsServer,
  PostgresServer,
  spawnAgent,
  spawnControlPlane,
  waitFor,
} from '../harness/index.js';

export const SITE = 'plant-s';

/** nats-server with decentralised JWT auth from `generateNatsAuth`, Postgres and the real control plane. */
export class SecureStack {
  readonly agents = new Map<string, { proc: ManagedProcess; dataDir: string }>();

  private constructor(
    readonly auth: GeneratedNatsAuth,
    readonly nats: NatsServer,
    readonly pg: PostgresServer,
    readonly cp: ControlPlaneProcess,
    readonly bootstrapToken: string,
  ) {}

  static async start(): Promise<SecureStack> {
    const auth = await generateNatsAuth(await mkdtemp(join(tmpdir(), 'mw-nats-auth-')), { maxConsumers: 200 });
    const [nats, pg] = await Promise.all([
      NatsServer.start({ workDir: auth.dir, config: auth.serverInclude }),
      PostgresServer.start(),
    ]);
    const f = auth.files;
    const cp = await spawnControlPlane({
      MW_DATABASE_URL: await pg.createDatabase(),
      MW_NATS_URL: nats.url,
      MW_NATS_CREDS_FILE: f.controlPlaneCreds,
      MW_NATS_AUTH_ACCOUNT_SEED_FILE: f.accountSeed,
      MW_NATS_AUTH_OPERATOR_SEED_FILE: f.operatorSeed,
      MW_NATS_AUTH_SYSTEM_CREDS_FILE: f.systemCreds,
      MW_NATS_AUTH_PRELOAD_FILE: f.accountsConf,
      MW_NATS_AUTH_MAX_CONSUMERS: '200',
      MW_FLEET_AUTO_REGISTER: 'false',
      MW_INGEST_HEARTBEAT_FLUSH_MS: '100',
    });
    const ctl = (...a: string[]) => mwctl([...a, '--server', cp.grpcAddr]);
    const site = await ctl('sites', 'create', SITE);
    if (site.code !== 0) throw new Error(site.stderr);
    const tok = await ctl('tokens', 'create', '--site', SITE, '--max-uses', '10', '--json');
    if (tok.code !== 0) throw new Error(tok.stderr);
    return new SecureStack(auth, nats, pg, cp, (JSON.parse(tok.stdout) as { token: string }).token);
  }

  mwctl(...a: string[]) {
    return mwctl([...a, '--server', this.cp.grpcAddr]);
  }

  /** Spawns a real agent that enrols with the bootstrap user and token, then connects with its own JWT. */
  async spawnAgent(id: string): Promise<void> {
    const dataDir = await mkdtemp(join(tmpdir(), `mw-${id}-`));
    const proc = await spawnAgent({
      MW_AGENT_ID: id,
      MW_SITE_ID: SITE,
      MW_DATA_DIR: dataDir,
      MW_NATS_URL: this.nats.url,
      MW_ENROLL_BOOTSTRAP_TOKEN: this.bootstrapToken,
      MW_ENROLL_BOOTSTRAP_CREDS_FILE: this.auth.files.bootstrapCreds,
      MW_HEARTBEAT_INTERVAL_S: '0.5',
    });
    this.agents.set(id, { proc, dataDir });
  }

  credsOf(id: string): Promise<Buffer> {
    return readFile(join(this.agents.get(id)!.dataDir, 'identity', 'agent.creds'));
  }

  /** Connects as `creds` with the given inbox prefix; collects async errors (permission violations). */
  async connectAs(creds: Buffer, inboxFor: string): Promise<Client> {
    const nc = await connect({
      servers: this.nats.url,
      authenticator: credsAuthenticator(creds),
      inboxPrefix: subjects.inboxPrefix(inboxFor),
      reconnect: false,
    });
    return new Client(nc);
  }

  async waitOnline(id: string): Promise<void> {
    await waitFor(
      `${id} online`,
      async () => {
        const res = await this.mwctl('fleet', 'get', id, '--json');
        return res.code === 0 && (JSON.parse(res.stdout) as { health: string }).health === 'online' ? true : undefined;
      },
      60_000,
    );
  }

  async dispose(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.proc.stop()));
    await this.cp?.proc.stop();
    await this.nats.dispose();
    await this.pg.dispose();
    await rm(this.auth.dir, { recursive: true, force: true });
  }
}

/** A NATS client whose asynchronous errors are kept for assertions. */
export class Client {
  readonly errors: string[] = [];

  constructor(readonly nc: NatsConnection) {
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'error' || s.type === 'disconnect')
          this.errors.push(`${s.type}: ${String((s as { error?: unknown }).error ?? '')}`);
      }
    })();
  }

  /** Waits until an error matching `re` arrived (permission violations are asynchronous). */
  async errorMatching(re: RegExp): Promise<string> {
    await this.nc.flush().catch(() => undefined);
    return waitFor(`error ${re}`, async () => this.errors.find((e) => re.test(e)), 20_000);
  }

  async close(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.close();
  }
}
