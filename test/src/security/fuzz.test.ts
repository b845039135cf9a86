import { createRequire } from 'node:module';
import { join } from 'node:path';
import { insecure } from '@millwright/control-plane/cli/client.js';
import {
  AdminServiceService,
  AgentStateReport,
  ArtifactUrlRequest,
  EnrollRequest,
  FleetServiceClient,
  FleetServiceService,
  Heartbeat,
  ModelRegistryServiceService,
  RecordBatch,
  subjects,
} from '@millwright/proto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ControlPlaneProcess,
  NatsServer,
  PostgresServer,
  REPO_ROOT,
  spawnControlPlane,
  waitFor,
} from '../harness/index.js';
import { Junk } from './fuzz.js';
import { metric, statusOf } from './support.js';

/** grpc-js, borrowed from the control plane (the test package does not list it) for raw-byte calls. */
const grpc = createRequire(join(REPO_ROOT, 'control-plane/package.json'))('@grpc/grpc-js') as {
  Metadata: new () => { set(k: string, v: string): void };
};

const SEED = 20261125;
const SITE = 'plant-f';
const AGENT = 'fuzz-1';

function valid() {
  return {
    hb: [Heartbeat.encode(Heartbeat.fromPartial({ agentId: AGENT, siteId: SITE, announce: true })).finish()],
    rec: [RecordBatch.encode(RecordBatch.fromPartial({ agentId: AGENT, siteId: SITE })).finish()],
    state: [
      AgentStateReport.encode(AgentStateReport.fromPartial({ agentId: AGENT, siteId: SITE, reportSeq: 1 })).finish(),
    ],
    url: [
      ArtifactUrlRequest.encode(ArtifactUrlRequest.fromPartial({ agentId: AGENT, model: 'm', version: '1' })).finish(),
    ],
    enroll: [
      EnrollRequest.encode(EnrollRequest.fromPartial({ siteId: SITE, bootstrapToken: 'x', agentId: AGENT })).finish(),
    ],
  };
}

function decodes(decode: (b: Uint8Array) => unknown, b: Uint8Array): boolean {
  try {
    decode(b);
    return true;
  } catch {
    return false;
  }
}

describe('junk at every NATS subject and gRPC method the control plane serves (seeded fuzzing)', () => {
  let nats: NatsServer;
  let pg: PostgresServer;
  let cp: ControlPlaneProcess;
  let nc: NatsConnection;
  const junk = new Junk(SEED);

  beforeAll(async () => {
    [nats, pg] = await Promise.all([NatsServer.start(), PostgresServer.start()]);
    cp = await spawnControlPlane({
      MW_DATABASE_URL: await pg.createDatabase(),
      MW_NATS_URL: nats.url,
      MW_FLEET_AUTO_REGISTER: 'false',
      MW_INGEST_HEARTBEAT_FLUSH_MS: '100',
    });
    nc = await connect({ servers: nats.url });
  }, 120_000);

  afterAll(async () => {
    await nc?.close();
    await cp?.proc.stop();
    await Promise.all([nats?.dispose(), pg?.dispose()]);
  });

  it('dead-letters every undecodable heartbeat, record batch and state report, and keeps serving', async () => {
    const v = valid();
    const before = await metric(cp.httpUrl, 'mw_dead_letters_total');
    let undecodable = 0;
    const perSubject: Record<string, number> = {};
    // One agent subject per message: MW_HEARTBEATS keeps one message per subject, so junk sent to
    // one subject would mostly be replaced in the stream before the control plane saw it.
    const cases: [(agent: string) => string, Uint8Array[], (b: Uint8Array) => unknown][] = [
      [(a) => subjects.edge.heartbeat(SITE, a), v.hb, (b) => Heartbeat.decode(b)],
      [(a) => subjects.edge.records(SITE, a), v.rec, (b) => RecordBatch.decode(b)],
      [(a) => subjects.edge.state(SITE, a), v.state, (b) => AgentStateReport.decode(b)],
    ];
    for (const [subjectOf, valids, decode] of cases) {
      for (let i = 0; i < 60; i++) {
        const subject = subjectOf(`fuzz-${i}`);
        const p = junk.payload(valids);
        if (!decodes(decode, p)) {
          undecodable++;
          perSubject[subject.split('.').pop()!] = (perSubject[subject.split('.').pop()!] ?? 0) + 1;
        }
        nc.publish(subject, p);
      }
    }
    await nc.flush();
    console.log('undecodable junk by subject kind:', JSON.stringify(perSubject));
    expect(undecodable).toBeGreaterThan(30);
    // Each undecodable message must be dead-lettered (decodable junk is refused for other reasons, e.g. unknown_agent).
    await waitFor(
      'dead letters',
      async () => ((await metric(cp.httpUrl, 'mw_dead_letters_total')) - before >= undecodable ? true : undefined),
      90_000,
    );
    expect(cp.proc.running).toBe(true);
    expect((await fetch(`${cp.httpUrl}/readyz`)).status).toBe(200);
  }, 150_000);

  it('answers every junk enrollment and artifact-URL request, counting enrollment refusals', async () => {
    const v = valid();
    const before = await metric(cp.httpUrl, 'mw_enrollments_total');
    const n = 40;
    for (let i = 0; i < n; i++) {
      const reply = await nc.request(subjects.enroll.site(SITE), junk.payload(v.enroll, 2048), { timeout: 20_000 });
      expect(reply.data.length).toBeGreaterThan(0);
    }
    expect((await metric(cp.httpUrl, 'mw_enrollments_total')) - before).toBe(n);
    // An oversized request is refused without being decoded.
    const big = await nc.request(subjects.enroll.site(SITE), new Uint8Array(200 * 1024), { timeout: 20_000 });
    expect(new TextDecoder().decode(big.data)).toContain('larger than');
    for (let i = 0; i < 20; i++) {
      const reply = await nc
        .request(subjects.edge.artifactUrl(SITE, AGENT), junk.payload(v.url), { timeout: 20_000 })
        .catch((e: Error) => e);
      expect(reply instanceof Error ? reply.message : 'answered').not.toMatch(/no responders/);
    }
    expect(cp.proc.running).toBe(true);
  });

  it('refuses junk sent to every gRPC method with a status, never a crash, and counts refusals without a token', async () => {
    const client = new FleetServiceClient(cp.grpcAddr, insecure()) as unknown as {
      makeUnaryRequest: (...a: unknown[]) => unknown;
      close(): void;
    };
    const services = [FleetServiceService, ModelRegistryServiceService, AdminServiceService];
    const codes = new Map<number, number>();
    const failuresBefore = await metric(cp.httpUrl, 'mw_auth_failures_total');
    let unauthenticated = 0;
    for (const svc of services) {
      for (const def of Object.values(svc) as { path: string; requestStream: boolean }[]) {
        if (def.requestStream) continue;
        for (let i = 0; i < 6; i++) {
          const md = new grpc.Metadata();
          const withToken = i % 2 === 0;
          if (withToken) md.set('authorization', `Bearer ${cp.adminToken}`);
          const code = await new Promise<number>((resolve) =>
            client.makeUnaryRequest(
              def.path,
              (b: Buffer) => b,
              (b: Buffer) => b,
              Buffer.from(junk.bytes(256)),
              md,
              { deadline: new Date(Date.now() + 20_000) },
              (err: { code: number } | null) => resolve(err ? err.code : 0),
            ),
          );
          codes.set(code, (codes.get(code) ?? 0) + 1);
          if (!withToken && code === 16) unauthenticated++;
        }
      }
    }
    client.close();
    // 14 = UNAVAILABLE, 4 = DEADLINE_EXCEEDED, 13 = INTERNAL: never down, hung or failing unexplained.
    expect(codes.get(14) ?? 0).toBe(0);
    expect(codes.get(4) ?? 0).toBe(0);
    expect(codes.get(13) ?? 0).toBe(0);
    // Junk that does not decode is refused INVALID_ARGUMENT (3) and counted once authenticated.
    expect(await metric(cp.httpUrl, 'mw_grpc_malformed_requests_total')).toBeGreaterThan(0);
    expect((await metric(cp.httpUrl, 'mw_auth_failures_total')) - failuresBefore).toBeGreaterThanOrEqual(
      unauthenticated,
    );
    const alive = await statusOf(
      new FleetServiceClient(cp.grpcAddr, insecure()),
      FleetServiceClient.prototype.getAgent,
      { id: 'nope' },
      cp.adminToken,
    );
    expect(alive.code).toBe('NOT_FOUND');
    console.log('gRPC junk outcomes by status code:', Object.fromEntries(codes));
  });
});
