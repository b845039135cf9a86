#!/usr/bin/env node
/**
 * `pnpm demo`: a working local Millwright on one machine. Starts its own NATS (JetStream),
 * PostgreSQL and S3-compatible store on free ports unless MW_DEMO_NATS_URL / MW_DEMO_DATABASE_URL
 * are given, then the control plane and two simulated plants of agents. Ctrl-C stops everything.
 * `--for SECONDS` stops by itself (used by the demo test).
 */
import {
  freePort,
  type ManagedProcess,
  NatsServer,
  PostgresServer,
  S3Server,
  spawnAgent,
  spawnControlPlane,
} from '../harness/index.js';

const PLANTS = [
  { site: 'plant-north', lines: ['L1', 'L2'], machines: ['press', 'pump', 'fan'] },
  { site: 'plant-south', lines: ['L1', 'L2'], machines: ['press', 'pump'] },
];

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
    step('starting nats-server with JetStream, PostgreSQL and the S3-compatible store on free ports');
    const natsUrl = process.env.MW_DEMO_NATS_URL ?? (await startNats(cleanup));
    const dbUrl = process.env.MW_DEMO_DATABASE_URL ?? (await startPostgres(cleanup));
    const s3 = await S3Server.start({ buckets: ['millwright'] });
    cleanup.push(() => s3.dispose());

    step('starting the control plane (applies migrations)');
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
      },
      'demo-control-plane',
    );
    cleanup.push(() => cp.proc.stop());

    const agents: ManagedProcess[] = [];
    for (const plant of PLANTS) {
      for (const [i, machine] of plant.machines.entries()) {
        const id = `${plant.site.replace('plant-', '')}-${machine}-${i + 1}`;
        step(`starting agent ${id} at ${plant.site}`);
        const a = await spawnAgent({
          MW_AGENT_ID: id,
          MW_SITE_ID: plant.site,
          MW_LINE_ID: plant.lines[i % plant.lines.length]!,
          MW_LABELS: JSON.stringify({ machine_type: machine, hardware: i % 2 ? 'ipc' : 'rpi4' }),
          MW_NATS_URL: natsUrl,
          MW_HEARTBEAT_INTERVAL_S: '2',
        });
        agents.push(a);
        cleanup.push(() => a.stop());
      }
    }

    const mwctl = `node control-plane/dist/cli/main.js --server ${cp.grpcAddr}`;
    process.stdout.write(`
Millwright is running.

  gRPC API     ${cp.grpcAddr}
  metrics      ${cp.httpUrl}/metrics
  agents       ${agents.length} at ${PLANTS.length} plants

Try:
  ${mwctl} fleet ls
  ${mwctl} fleet ls --site plant-north --label machine_type=pump
  ${mwctl} fleet get north-press-1 --json

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
