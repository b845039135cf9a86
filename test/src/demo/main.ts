#!/usr/bin/env node
/**
 * `pnpm demo`: a working local Millwright on one machine. Starts its own NATS (JetStream),
 * PostgreSQL and S3-compatible store on free ports unless MW_DEMO_NATS_URL / MW_DEMO_DATABASE_URL
 * are given, then the control plane with its dashboard, registers a baseline bearing-health model,
 * starts two simulated plants of agents (a developing bearing fault, electrical spikes, a drifting
 * sensor), deploys the baseline and, when the rollout service is there, a canary of a second
 * version. A test rig replays a real FEMTO-ST bearing run to failure through its agent with the
 * rotating-machinery pack (rig.ts; `--bearings DIR` or MW_DEMO_BEARINGS_DIR locate the data).
 * Ctrl-C stops everything. `--for SECONDS` stops by itself (used by the demo test).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freePort,
  type ManagedProcess,
  mwctl,
  NatsServer,
  PostgresServer,
  S3Server,
  spawnAgent,
  spawnControlPlane,
} from '../harness/index.js';
import { deployDirect, MODEL, pushModel, trustKey } from './fleet-model.js';
import { bearingDataDir, pushRigModel, RIG, rigRun, startRig, watchRig } from './rig.js';

type Scenario = 'bearing' | 'spikes' | 'drift' | 'healthy';

/** Two plants, three agents each; one agent per fault so the dashboard has something to explain. */
const PLANTS: { site: string; agents: { machine: string; line: string; scenario: Scenario }[] }[] = [
  {
    site: 'plant-north',
    agents: [
      { machine: 'pump', line: 'L1', scenario: 'bearing' },
      { machine: 'press', line: 'L1', scenario: 'spikes' },
      { machine: 'fan', line: 'L2', scenario: 'healthy' },
    ],
  },
  {
    site: 'plant-south',
    agents: [
      { machine: 'pump', line: 'L1', scenario: 'drift' },
      { machine: 'press', line: 'L2', scenario: 'healthy' },
      { machine: 'fan', line: 'L2', scenario: 'bearing' },
    ],
  },
];

function agentId(site: string, machine: string, i: number): string {
  return `${site.replace('plant-', '')}-${machine}-${i + 1}`;
}

/** Simulator scenario (edge-agent/src/ingest/simulator-config.ts), light enough for a laptop. */
function simulator(asset: string, seed: number, scenario: Scenario) {
  return [
    {
      type: 'simulator',
      id: 'sim',
      seed,
      // 10 plant hours per real minute: a bearing defect develops within a minute or two.
      timeCompression: 600,
      assets: [
        {
          name: asset,
          vibrationRateHz: 6400,
          bearingFault:
            scenario === 'bearing'
              ? { onsetH: 0.5, progressionH: 12, resonanceHz: 1500, resonanceBandwidthHz: 300 }
              : null,
          spikes: scenario === 'spikes' ? { ratePerHour: 20 } : { ratePerHour: 0.05 },
          drift: scenario === 'drift' ? { channel: 'temp_nde', startH: 0.2, ratePerHour: 3 } : null,
        },
      ],
    },
  ];
}

function step(msg: string): void {
  process.stderr.write(`\x1b[1m[demo]\x1b[0m ${msg}\n`);
}

async function main(argv: string[]): Promise<void> {
  const forIdx = argv.indexOf('--for');
  const runForS = forIdx >= 0 ? Number(argv[forIdx + 1]) : undefined;
  const cleanup: Array<() => Promise<void>> = [];
  let stopping = false;
  const stopAll = async () => {
    if (stopping) return;
    stopping = true;
    step('stopping…');
    for (const fn of cleanup.reverse()) await fn().catch(() => {});
    step('stopped');
  };
  process.on('SIGINT', () => void stopAll().then(() => process.exit(0)));
  process.on('SIGTERM', () => void stopAll().then(() => process.exit(0)));

  try {
    // Checked first: without the recording there is no rig to show.
    const run = rigRun(bearingDataDir(argv, process.env));
    step('starting nats-server with JetStream, PostgreSQL and the S3-compatible store on free ports');
    const natsUrl = process.env.MW_DEMO_NATS_URL ?? (await startNats(cleanup));
    const dbUrl = process.env.MW_DEMO_DATABASE_URL ?? (await startPostgres(cleanup));
    const s3 = await S3Server.start({ buckets: ['millwright'] });
    cleanup.push(() => s3.dispose());
    const dir = await mkdtemp(join(tmpdir(), 'mw-demo-'));

    step('starting the control plane (applies migrations; serves the dashboard)');
    const grpcPort = await preferPort(7443);
    const httpPort = await preferPort(8080);
    const cp = await spawnControlPlane(
      {
        MW_DATABASE_URL: dbUrl,
        MW_NATS_URL: natsUrl,
        MW_GRPC_PORT: String(grpcPort),
        MW_HTTP_PORT: String(httpPort),
        MW_S3_ENDPOINT: s3.endpoint.endpoint,
        MW_S3_FORCE_PATH_STYLE: 'true',
        MW_S3_ACCESS_KEY_ID: s3.endpoint.accessKeyId,
        MW_S3_SECRET_ACCESS_KEY: s3.endpoint.secretAccessKey,
        MW_SIGNING_DEV_KEY_DIR: join(dir, 'signing'),
        MW_HEALTH_STALE_AFTER_S: '10',
        MW_HEALTH_OFFLINE_AFTER_S: '20',
        MW_DASHBOARD_POLL_MS: '1500',
      },
      'demo-control-plane',
    );
    cleanup.push(() => cp.proc.stop());
    const ctl = (...args: string[]) => mwctl([...args, '--server', cp.grpcAddr], { MW_ACTOR: 'demo' });

    step(`registering the baseline model ${MODEL} 1.0.0`);
    await pushModel(ctl, dir, '1.0.0');
    await ctl('models', 'alias', MODEL, 'production', '1.0.0', '--reason', 'demo baseline');
    const key = await trustKey(ctl);

    const agents: { site: string; agent: string; proc: ManagedProcess }[] = [];
    let seed = 1;
    for (const plant of PLANTS) {
      for (const [i, a] of plant.agents.entries()) {
        const id = agentId(plant.site, a.machine, i);
        step(`starting agent ${id} at ${plant.site}/${a.line} (${a.scenario})`);
        const proc = await spawnAgent({
          MW_AGENT_ID: id,
          MW_SITE_ID: plant.site,
          MW_LINE_ID: a.line,
          MW_LABELS: JSON.stringify({ machine_type: a.machine, scenario: a.scenario }),
          MW_NATS_URL: natsUrl,
          MW_HEARTBEAT_INTERVAL_S: '2',
          MW_REPORTS_INTERVAL_S: '5',
          MW_TRUST_KEYS: key,
          MW_ALERTS_HOLD_OFF_S: '30',
          MW_SOURCES: JSON.stringify(simulator(a.machine, seed++, a.scenario)),
        });
        agents.push({ site: plant.site, agent: id, proc });
        cleanup.push(() => proc.stop());
      }
    }

    step(`deploying ${MODEL} 1.0.0 to ${agents.length} agents`);
    await deployDirect(ctl, natsUrl, '1.0.0', agents);

    step(`registering ${RIG.model} ${RIG.version}: the rotating-machinery pack for the test rig (${run.name})`);
    await pushRigModel(ctl, dir, run);
    step(`starting agent ${RIG.agent} at ${RIG.site}/${RIG.line}: it replays FEMTO-ST ${run.name} at ${RIG.pace}x`);
    const rig = await startRig({ ctl, natsUrl, trustKey: key, run, dataDir: join(dir, RIG.agent) });
    cleanup.push(() => rig.stop());
    const lifeMin = (run.failureMs - run.startMs) / 60_000;
    const stopWatch = watchRig(cp.httpUrl, cp.adminToken, (minute, reasons) =>
      step(
        `${RIG.agent}: bearing alert at minute ${minute.toFixed(0)} of ${lifeMin.toFixed(0)} of its run: ${reasons.join('; ')}`,
      ),
    );
    cleanup.push(async () => stopWatch());

    step(`registering ${MODEL} 1.1.0 (child of 1.0.0)`);
    await pushModel(ctl, dir, '1.1.0');
    const canary = await startCanary(ctl);

    const mwctlCmd = `node control-plane/dist/cli/main.js --server ${cp.grpcAddr} --token ${cp.adminToken}`;
    process.stdout.write(`
Millwright is running.

  dashboard    ${cp.httpUrl}/?token=${cp.adminToken}
  gRPC API     ${cp.grpcAddr}
  metrics      ${cp.httpUrl}/metrics
  admin token  ${cp.adminToken}
  agents       ${agents.length} at ${PLANTS.length} plants (${agents.map((a) => a.agent).join(', ')})
  canary       ${canary}
  test rig     ${RIG.agent} replays FEMTO-ST ${run.name} (real vibration, ${lifeMin.toFixed(0)} min from healthy to
               failure) at ${RIG.pace}x with ${RIG.model} ${RIG.version}: it commissions on the first 10 min of the
               run, then watch its predictions and reasons (the alert is printed here when it comes):
               curl -H 'authorization: Bearer ${cp.adminToken}' ${cp.httpUrl}/api/agents/${RIG.agent}/predictions?limit=5

Try:
  ${mwctlCmd} fleet ls
  ${mwctlCmd} fleet ls --site plant-north --label machine_type=pump
  ${mwctlCmd} fleet get north-pump-1 --json
  ${mwctlCmd} fleet get ${RIG.agent} --json
  ${mwctlCmd} models versions ${MODEL}
  ${mwctlCmd} alerts rules ls --http ${cp.httpUrl}

Ctrl-C stops everything.
`);
    if (runForS !== undefined) {
      await new Promise((r) => setTimeout(r, runForS * 1000));
      await stopAll();
      process.exit(0);
    }
  } catch (err) {
    step(`failed: ${err instanceof Error ? err.message : String(err)}`);
    await stopAll();
    process.exit(1);
  }
}

/** A canary of 1.1.0 through the rollout service when this control plane has one. */
async function startCanary(ctl: (...args: string[]) => ReturnType<typeof mwctl>): Promise<string> {
  const help = await ctl('--help');
  if (!/\n\s+rollouts (plan|start)/.test(help.stdout)) {
    step('no rollout service in this build: 1.1.0 is registered but not rolled out');
    return 'not available in this build';
  }
  step(`starting a canary rollout of ${MODEL} 1.1.0`);
  // One agent in six first (17 %), then half, then all; each stage bakes a minute.
  const res = await ctl(
    'rollouts',
    'start',
    '--model',
    MODEL,
    '--version',
    '1.1.0',
    '--stages',
    '17:60,50:60,100:0',
    // The rig runs the pack, not this fleet model.
    '--exclude',
    RIG.agent,
    '--reason',
    'demo canary',
    '--json',
  );
  if (res.code !== 0) {
    step(`canary not started: ${res.stderr.trim()}`);
    return `not started (${res.stderr.trim().split('\n')[0]})`;
  }
  const id = (JSON.parse(res.stdout) as { id?: string }).id ?? '?';
  return `rollout ${id} of ${MODEL} 1.1.0`;
}

async function startNats(cleanup: Array<() => Promise<void>>): Promise<string> {
  const nats = await NatsServer.start();
  cleanup.push(() => nats.dispose());
  return nats.url;
}

async function startPostgres(cleanup: Array<() => Promise<void>>): Promise<string> {
  const pg = await PostgresServer.start();
  cleanup.push(() => pg.dispose());
  return pg.createDatabase('millwright');
}

/** The conventional port when it is free, else any free one. */
async function preferPort(port: number): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(freePort()));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(port)));
  });
}

void main(process.argv.slice(2));
