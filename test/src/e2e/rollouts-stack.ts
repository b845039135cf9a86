/**
 * The real processes of the rollout end-to-end suites (rollouts-*.e2e.test.ts): NATS, PostgreSQL,
 * S3, one control plane, `mwctl` and agents, with helpers to push versions, start rollouts and read
 * what the agents reported (`agent_model_events`, the actual-state history).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import {
  type ControlPlaneProcess,
  type ManagedProcess,
  mwctl,
  NatsServer,
  PostgresServer,
  S3Server,
  spawnAgent,
  spawnControlPlane,
  waitFor,
} from '../harness/index.js';

export interface GateJson {
  metric: string;
  outcome: string;
  value?: number;
  samples?: number;
  detail?: string;
}
export interface RolloutJson {
  id: string;
  status: string;
  statusReason?: string;
  currentStage?: number;
  previousVersion?: string;
  stages: { name: string; cohortSize?: number; active?: number; failed?: number; gates?: GateJson[] }[];
}
export interface DecisionJson {
  kind: string;
  stage?: number;
  atMs?: string | number;
  reason?: string;
  gates?: GateJson[];
}
export interface StatusJson {
  rollout: RolloutJson;
  decisions: DecisionJson[];
}
export interface AgentJson {
  id: string;
  runningModelVersion?: string;
  health: string;
}

/** One report of an agent's model state, as stored by the control plane. */
export interface ModelEvent {
  agentId: string;
  seq: number;
  atMs: number;
  phase: string;
  version: string;
  reason: string;
  desiredGeneration: number;
  configGeneration: number;
}

export interface AgentSpec {
  id: string;
  site: string;
  line: string;
  /** Over `{hardware: 'x86', machine_type: 'press'}`. */
  labels?: Record<string, string>;
}

const ENDED = ['rolled_back', 'aborted', 'failed', 'paused', 'succeeded'];
export const SLOW = 120_000;

export class RolloutStack {
  nats!: NatsServer;
  pg!: PostgresServer;
  s3!: S3Server;
  cp!: ControlPlaneProcess;
  sql!: postgres.Sql;
  dir = '';
  private trustKey = '';
  private readonly agents = new Map<string, { proc: ManagedProcess; env: Record<string, string> }>();

  /** Starts the servers and a control plane whose rollout controller ticks every 500 ms. */
  static async start(name: string): Promise<RolloutStack> {
    const s = new RolloutStack();
    [s.nats, s.pg, s.s3] = await Promise.all([NatsServer.start(), PostgresServer.start(), S3Server.start()]);
    s.dir = await mkdtemp(join(tmpdir(), `mw-${name}-`));
    const e = s.s3.endpoint;
    const dbUrl = await s.pg.createDatabase();
    s.cp = await spawnControlPlane(
      {
        MW_DATABASE_URL: dbUrl,
        MW_NATS_URL: s.nats.url,
        MW_S3_ENDPOINT: e.endpoint,
        MW_S3_REGION: e.region,
        MW_S3_BUCKET: name,
        MW_S3_ACCESS_KEY_ID: e.accessKeyId,
        MW_S3_SECRET_ACCESS_KEY: e.secretAccessKey,
        MW_S3_FORCE_PATH_STYLE: 'true',
        MW_SIGNING_DEV_KEY_DIR: join(s.dir, 'keys'),
        MW_HEALTH_STALE_AFTER_S: '2',
        MW_HEALTH_OFFLINE_AFTER_S: '4',
        MW_LEADER_RETRY_S: '1',
        MW_ROLLOUTS_TICK_MS: '500',
        MW_INGEST_HEARTBEAT_FLUSH_MS: '100',
      },
      name,
    );
    s.sql = postgres(dbUrl, { max: 2, onnotice: () => {} });
    return s;
  }

  async dispose(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.proc.stop()));
    await this.sql?.end().catch(() => {});
    await this.cp?.proc.stop();
    await Promise.all([this.nats?.dispose(), this.pg?.dispose(), this.s3?.dispose()]);
  }

  ctl(...args: string[]) {
    return mwctl([...args, '--server', this.cp.grpcAddr], { MW_ACTOR: 'e2e-operator' });
  }

  async ok(...args: string[]): Promise<string> {
    const res = await this.ctl(...args);
    if (res.code !== 0) throw new Error(`mwctl ${args.join(' ')} exited ${res.code}: ${res.stderr}`);
    return res.stdout;
  }

  async json<T>(...args: string[]): Promise<T> {
    return JSON.parse(await this.ok(...args, '--json')) as T;
  }

  /** `mwctl rollouts start … --json`. */
  startRollout(...args: string[]): Promise<RolloutJson> {
    return this.json<RolloutJson>('rollouts', 'start', ...args);
  }

  /** Starts a rollout from a spec (proto3 JSON), the way to roll out a config layer. */
  async startSpec(spec: Record<string, unknown>): Promise<RolloutJson> {
    const file = join(this.dir, `spec-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(file, JSON.stringify(spec));
    return this.startRollout('--spec', file);
  }

  async status(id: string): Promise<StatusJson> {
    const s = await this.json<StatusJson>('rollouts', 'status', id);
    s.rollout.status = s.rollout.status.replace('ROLLOUT_STATUS_', '').toLowerCase();
    return s;
  }

  agent(id: string): Promise<AgentJson> {
    return this.json<AgentJson>('fleet', 'get', id);
  }

  /** Waits for a rollout status; ending in another final (or paused) status fails at once. */
  untilStatus(id: string, want: string, ms = SLOW): Promise<StatusJson> {
    return waitFor(
      `rollout ${id} ${want}`,
      async () => {
        const s = await this.status(id);
        if (ENDED.includes(s.rollout.status) && s.rollout.status !== want)
          throw new Error(`rollout ${id} ended ${s.rollout.status}: ${s.rollout.statusReason}`);
        return s.rollout.status === want ? s : undefined;
      },
      ms,
      250,
    );
  }

  untilRunning(agentId: string, version: string, ms = SLOW): Promise<true> {
    return waitFor(
      `${agentId} running ${version}`,
      async () => ((await this.agent(agentId)).runningModelVersion === version ? true : undefined),
      ms,
      250,
    );
  }

  /** Pushes a linear wear-index model `score = vib_h.rms + intercept` (alerts above 1000). */
  async push(version: string, intercept: number): Promise<void> {
    const artifact = join(this.dir, `model-${version}.json`);
    const manifest = join(this.dir, `manifest-${version}.json`);
    await writeFile(artifact, JSON.stringify({ weights: [1], intercept }));
    await writeFile(
      manifest,
      JSON.stringify({
        runtime: 'MODEL_RUNTIME_LINEAR',
        inputs: [{ name: 'vib_h.rms', unit: 'g' }],
        output: { meaning: 'wear index', alertThreshold: 1000 },
        selfTest: [
          { inputs: [0], expectedScore: intercept, tolerance: 1e-9 },
          { inputs: [1], expectedScore: intercept + 1, tolerance: 1e-9 },
        ],
      }),
    );
    await this.ok('models', 'push', 'press', version, '--artifact', artifact, '--manifest', manifest, '--create');
    if (!this.trustKey) {
      const keys = await this.json<{ publicKey: string }[]>('models', 'keys');
      this.trustKey = keys[0]!.publicKey;
    }
  }

  /** Starts a real agent (push a version first: agents pin the registry's signing key). */
  async startAgent(a: AgentSpec): Promise<void> {
    const env: Record<string, string> = {
      MW_AGENT_ID: a.id,
      MW_SITE_ID: a.site,
      MW_LINE_ID: a.line,
      MW_LABELS: JSON.stringify({ hardware: 'x86', machine_type: 'press', ...a.labels }),
      MW_NATS_URL: this.nats.url,
      MW_DATA_DIR: await mkdtemp(join(tmpdir(), `mw-rollout-${a.id}-`)),
      MW_HEARTBEAT_INTERVAL_S: '0.5',
      MW_REPORTS_INTERVAL_S: '1',
      MW_TRUST_KEYS: JSON.stringify([this.trustKey]),
      MW_UPDATE_SWITCH_CHECK_S: '1',
      MW_UPDATE_RETRY_BACKOFF_MIN_MS: '200',
      MW_UPDATE_RETRY_BACKOFF_MAX_MS: '2000',
      MW_FEATURES_VIBRATION_WINDOW_SIZE: '256',
      MW_SOURCES: JSON.stringify([
        {
          type: 'simulator',
          id: 'sim',
          seed: [...a.id].reduce((n, c) => n + c.charCodeAt(0), 0),
          assets: [{ name: 'pump1', vibrationRateHz: 2560, bearingFault: null, spikes: null }],
        },
      ]),
    };
    this.agents.set(a.id, { proc: await spawnAgent(env, a.id), env });
  }

  /** Restarts an agent with other labels (its data dir, and so its model, kept). */
  async relabel(id: string, labels: Record<string, string>): Promise<void> {
    const a = this.agents.get(id);
    if (!a) throw new Error(`no agent ${id}`);
    await a.proc.stop();
    a.env.MW_LABELS = JSON.stringify({ hardware: 'x86', machine_type: 'press', ...labels });
    a.proc = await spawnAgent(a.env, id);
  }

  /** Waits until the fleet registry lists these agents online. */
  async untilOnline(ids: string[]): Promise<void> {
    await waitFor(
      `${ids.join(', ')} online`,
      async () => {
        const list = await this.json<AgentJson[]>('fleet', 'ls', '--health', 'online');
        const online = new Set(list.map((a) => a.id));
        return ids.every((id) => online.has(id)) ? true : undefined;
      },
      60_000,
      250,
    );
  }

  /** The state reports the control plane stored for a rollout, oldest first. */
  async modelEvents(rolloutId: string): Promise<ModelEvent[]> {
    const rows = await this.sql<Record<string, unknown>[]>`
      select agent_id, report_seq, at, phase, version, reason, desired_generation, config_generation
      from agent_model_events where rollout_id = ${rolloutId} order by at, agent_id, report_seq`;
    return rows.map((r) => ({
      agentId: String(r.agent_id),
      seq: Number(r.report_seq),
      atMs: new Date(r.at as string).getTime(),
      phase: String(r.phase),
      version: String(r.version),
      reason: String(r.reason),
      desiredGeneration: Number(r.desired_generation),
      configGeneration: Number(r.config_generation),
    }));
  }

  /** An agent's desired state as the control plane stored it (source of truth behind KV). */
  async desired(agentId: string): Promise<{ generation: number; rolloutId: string; state: Record<string, unknown> }> {
    const [row] = await this.sql<Record<string, unknown>[]>`
      select generation, rollout_id, state from desired_states where agent_id = ${agentId}`;
    if (!row) throw new Error(`no desired state for ${agentId}`);
    return {
      generation: Number(row.generation),
      rolloutId: String(row.rollout_id ?? ''),
      state: row.state as Record<string, unknown>,
    };
  }
}

/** Decision times arrive as int64 strings in proto3 JSON. */
export const decisionAt = (d: DecisionJson): number => Number(d.atMs ?? 0);
