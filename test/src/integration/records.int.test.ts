import { randomBytes } from 'node:crypto';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DeadLetter, Heartbeat, type Record as ProtoRecord, RecordClass, subjects } from '@millwright/proto';
import { type JetStreamClient, jetstream } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ControlPlaneProcess,
  mwctl,
  NatsServer,
  PostgresServer,
  S3Server,
  sleep,
  spawnControlPlane,
  waitFor,
} from '../harness/index.js';
import { encodeBatch, publishBatch, range, readWatermark } from '../support/records.js';

const SITE = 'plant-a';
const BUCKET = 'mw-records';
const MAX_BATCH_BYTES = 64 * 1024;

describe('records ingest: exactly once into Postgres and S3, watermark in KV', () => {
  let nats: NatsServer;
  let pg: PostgresServer;
  let s3: S3Server;
  let dbUrl: string;
  let cpEnv: Record<string, string>;
  let cp: ControlPlaneProcess;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let kv: KV;
  let sql: postgres.Sql;
  let s3c: S3Client;

  beforeAll(async () => {
    [nats, pg, s3] = await Promise.all([
      NatsServer.start(),
      PostgresServer.start(),
      S3Server.start({ buckets: [BUCKET] }),
    ]);
    dbUrl = await pg.createDatabase();
    const e = s3.endpoint;
    cpEnv = {
      MW_DATABASE_URL: dbUrl,
      MW_NATS_URL: nats.url,
      MW_S3_ENDPOINT: e.endpoint,
      MW_S3_REGION: e.region,
      MW_S3_BUCKET: BUCKET,
      MW_S3_ACCESS_KEY_ID: e.accessKeyId,
      MW_S3_SECRET_ACCESS_KEY: e.secretAccessKey,
      MW_S3_FORCE_PATH_STYLE: 'true',
      MW_INGEST_RECORD_BATCH_MAX_BYTES: String(MAX_BATCH_BYTES),
      MW_INGEST_HEARTBEAT_FLUSH_MS: '100',
    };
    cp = await spawnControlPlane(cpEnv, 'cp-a');
    nc = await connect({ servers: nats.url });
    js = jetstream(nc);
    kv = await new Kvm(js).open(subjects.KV.watermark);
    sql = postgres(dbUrl, { max: 2, onnotice: () => {} });
    s3c = new S3Client({
      ...e,
      credentials: { accessKeyId: e.accessKeyId, secretAccessKey: e.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  });

  afterAll(async () => {
    await nc?.close();
    await sql?.end();
    s3c?.destroy();
    await cp?.proc.stop();
    await Promise.all([nats?.dispose(), pg?.dispose(), s3?.dispose()]);
  });

  async function rows(agent: string): Promise<{ n: number; distinct: number; max: number }> {
    const [r] = await sql<{ n: number; distinct: number; max: number }[]>`
      select count(*)::int as n, count(distinct seq)::int as distinct, coalesce(max(seq), 0)::int as max
      from records where agent_id = ${agent}`;
    return r!;
  }

  const watermarkReaches = (agent: string, seq: number, timeoutMs = 20_000) =>
    waitFor(
      `${agent} watermark ${seq}`,
      async () => ((await readWatermark(kv, SITE, agent))?.committedSeq === seq ? true : undefined),
      timeoutMs,
    );

  async function deadLetters(agent: string): Promise<DeadLetter[]> {
    const c = await js.consumers.get(subjects.STREAMS.deadLetters);
    const out: DeadLetter[] = [];
    const msgs = await c.fetch({ max_messages: 1000, expires: 1000 });
    for await (const m of msgs) {
      const d = DeadLetter.decode(m.data);
      if (d.agentId === agent) out.push(d);
      if (m.info.pending === 0) break;
    }
    return out;
  }

  it('stores every record of a stream of batches once and publishes the watermark', async () => {
    for (let i = 0; i < 20; i++)
      await publishBatch(js, { site: SITE, agent: 'a-basic', buffer: 'b1', first: i * 50 + 1, last: i * 50 + 50 });
    await watermarkReaches('a-basic', 1000);
    expect(await rows('a-basic')).toEqual({ n: 1000, distinct: 1000, max: 1000 });
    const wm = await readWatermark(kv, SITE, 'a-basic');
    expect(wm).toMatchObject({ agentId: 'a-basic', bufferId: 'b1', committedSeq: 1000 });
    const [row] =
      await sql`select kind, model_version, score, decision, body from records where agent_id = 'a-basic' and seq = 50`;
    expect(row).toMatchObject({ kind: 'prediction', model_version: '1.4.0', score: 0.5, decision: 2 });
    expect(row!.body).toMatchObject({ seq: 50, prediction: { predictionId: 'a-basic:50', asset: 'pump-3' } });
  });

  it('stores a batch sent twice once, also when resent with another message id beyond the dedupe window', async () => {
    const spec = { site: SITE, agent: 'a-dup', buffer: 'b1', first: 1, last: 100 };
    await publishBatch(js, spec);
    const second = await publishBatch(js, spec);
    expect(second.duplicate).toBe(true);
    await watermarkReaches('a-dup', 100);
    await publishBatch(js, spec, 'resent-after-window');
    await publishBatch(js, { ...spec, first: 101, last: 150 });
    await watermarkReaches('a-dup', 150);
    expect(await rows('a-dup')).toEqual({ n: 150, distinct: 150, max: 150 });
  });

  it('advances the watermark only when out-of-order batches become contiguous', async () => {
    await publishBatch(js, { site: SITE, agent: 'a-ooo', buffer: 'b1', first: 21, last: 30 });
    await waitFor('21..30 stored', async () => ((await rows('a-ooo')).n === 10 ? true : undefined));
    const [stream] = await sql`select committed_seq::int, pending_ranges from record_streams where agent_id = 'a-ooo'`;
    expect(stream).toEqual({ committed_seq: 0, pending_ranges: [[21, 30]] });
    expect((await readWatermark(kv, SITE, 'a-ooo'))?.committedSeq ?? 0).toBe(0);
    await publishBatch(js, { site: SITE, agent: 'a-ooo', buffer: 'b1', first: 1, last: 10 });
    await watermarkReaches('a-ooo', 10);
    await publishBatch(js, { site: SITE, agent: 'a-ooo', buffer: 'b1', first: 11, last: 20 });
    await watermarkReaches('a-ooo', 30);
    const [after] = await sql`select committed_seq::int, pending_ranges from record_streams where agent_id = 'a-ooo'`;
    expect(after).toEqual({ committed_seq: 30, pending_ranges: [] });
  });

  it('keeps a re-imaged agent’s new buffer apart from the old sequence space', async () => {
    await publishBatch(js, { site: SITE, agent: 'a-reimage', buffer: 'old', first: 1, last: 10 });
    await watermarkReaches('a-reimage', 10);
    await publishBatch(js, { site: SITE, agent: 'a-reimage', buffer: 'new', first: 1, last: 5 });
    await waitFor('new buffer watermark', async () => {
      const wm = await readWatermark(kv, SITE, 'a-reimage');
      return wm?.bufferId === 'new' && wm.committedSeq === 5 ? true : undefined;
    });
    expect((await rows('a-reimage')).n).toBe(15);
  });

  it('dead-letters malformed, oversized, mismatched and badly sequenced batches while good ones keep flowing', async () => {
    const agent = 'a-bad';
    const subject = subjects.edge.records(SITE, agent);
    await js.publish(subject, Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), { msgID: 'bad-decode' });
    await publishBatch(js, { site: SITE, agent, buffer: 'b1', first: 1, last: 10 });
    const big = encodeBatch({ site: SITE, agent, buffer: 'b1', first: 11, last: 1000 });
    expect(big.length).toBeGreaterThan(MAX_BATCH_BYTES);
    await js.publish(subject, big, { msgID: 'bad-oversize' });
    await js.publish(subject, encodeBatch({ site: SITE, agent: 'someone-else', buffer: 'b1', first: 11, last: 20 }), {
      msgID: 'bad-identity',
    });
    const unordered = encodeBatch({ site: SITE, agent, buffer: 'b1', first: 11, last: 20, records: [] });
    await js.publish(subject, unordered, { msgID: 'bad-seqs' });
    await publishBatch(js, { site: SITE, agent, buffer: 'b1', first: 11, last: 20 });
    await watermarkReaches(agent, 20);
    const letters = await waitFor('four dead letters', async () => {
      const d = await deadLetters(agent);
      return d.length >= 4 ? d : undefined;
    });
    expect(letters.map((d) => d.code).sort()).toEqual(['decode', 'identity_mismatch', 'invalid', 'oversize']);
    expect(letters.find((d) => d.code === 'invalid')?.reason).toMatch(/no records/);
    expect(letters.find((d) => d.code === 'oversize')?.payloadSize).toBe(big.length);
    expect(await rows(agent)).toEqual({ n: 20, distinct: 20, max: 20 });
    const metrics = await (await fetch(`${cp.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/mw_dead_letters_total\{code="decode"\} [1-9]/);
  });

  it('puts captured sample bytes in S3 byte for byte and only their index in Postgres', async () => {
    const agent = 'a-sample';
    const vib = randomBytes(4 * 10_000);
    const cur = randomBytes(4 * 1000);
    const ts = Date.UTC(2026, 10, 3, 8, 30);
    const sample: ProtoRecord = {
      seq: 1,
      tsMs: ts,
      class: RecordClass.RECORD_CLASS_CAPTURE,
      body: {
        $case: 'sample',
        value: {
          sampleId: 'cap-1',
          reason: 2,
          predictionId: `${agent}:0`,
          model: 'bearing',
          modelVersion: '2.0.0',
          features: { names: ['rms'], values: [0.4], windowStartMs: ts - 1000, windowEndMs: ts, asset: 'pump-3' },
          score: 0.93,
          raw: [
            { channel: 'vib', unit: 'g', sampleRateHz: 25_600, startMs: ts - 1000, samplesF32le: vib },
            { channel: 'current', unit: 'A', sampleRateHz: 1000, startMs: ts - 1000, samplesF32le: cur },
          ],
        },
      },
    };
    await publishBatch(js, { site: SITE, agent, buffer: 'b9', first: 1, last: 1, records: [sample] });
    await watermarkReaches(agent, 1);
    const key = `datasets/bearing/2.0.0/${SITE}/2026-11-03/${agent}-b9-1.bin`;
    const got = await s3c.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    const bytes = Buffer.from(await got.Body!.transformToByteArray());
    expect(bytes.equals(Buffer.concat([vib, cur]))).toBe(true);
    const [row] = await sql`select kind, body, pg_column_size(body) as size from records where agent_id = ${agent}`;
    expect(row!.kind).toBe('sample');
    expect(row!.body).toMatchObject({
      blob: { key, bytes: vib.length + cur.length },
      sample: {
        raw: [
          { channel: 'vib', offset: 0, bytes: vib.length },
          { channel: 'current', offset: vib.length },
        ],
      },
    });
    expect(row!.size).toBeLessThan(4096);
  });

  describe('with two replicas', () => {
    let cpB: ControlPlaneProcess;

    beforeAll(async () => {
      cpB = await spawnControlPlane(cpEnv, 'cp-b');
    });
    afterAll(async () => {
      await cpB?.proc.stop();
    });

    const batchesOf = async (url: string) => {
      const m = (await (await fetch(`${url}/metrics`)).text()).match(/^mw_record_batches_total (\d+)/m);
      return Number(m?.[1] ?? 0);
    };

    it('processes every batch once with both replicas working, and both answer the same', async () => {
      const before = [await batchesOf(cp.httpUrl), await batchesOf(cpB.httpUrl)];
      const agents = range(1, 20).map((i) => `a-two-${i}`);
      for (let i = 0; i < 30; i++) {
        await Promise.all(
          agents.map((agent) =>
            publishBatch(js, { site: SITE, agent, buffer: 'b1', first: i * 20 + 1, last: i * 20 + 20 }),
          ),
        );
      }
      for (const agent of agents) await watermarkReaches(agent, 600);
      for (const agent of agents) expect(await rows(agent)).toEqual({ n: 600, distinct: 600, max: 600 });
      const after = [await batchesOf(cp.httpUrl), await batchesOf(cpB.httpUrl)];
      expect(after[0]! - before[0]!).toBeGreaterThan(0);
      expect(after[1]! - before[1]!).toBeGreaterThan(0);
      expect(after[0]! - before[0]! + after[1]! - before[1]!).toBeGreaterThanOrEqual(600);

      for (const agent of agents.slice(0, 5)) {
        nc.publish(
          subjects.edge.heartbeat(SITE, agent),
          Heartbeat.encode(
            Heartbeat.fromPartial({
              agentId: agent,
              siteId: SITE,
              sentAtMs: Date.now(),
              heartbeatSeq: 1,
              bootId: 'boot',
            }),
          ).finish(),
        );
      }
      const ls = async (c: ControlPlaneProcess) => {
        const res = await mwctl(['fleet', 'ls', '--json', '--server', c.grpcAddr]);
        return (JSON.parse(res.stdout) as { id: string; siteId: string }[]).map((a) => `${a.siteId}/${a.id}`);
      };
      const fromA = await waitFor('five agents listed', async () => ((await ls(cp)).length === 5 ? ls(cp) : undefined));
      expect(await ls(cpB)).toEqual(fromA);
    });

    it('loses and doubles nothing when one replica is killed -9 mid-stream', async () => {
      const agents = range(1, 10).map((i) => `a-kill-${i}`);
      const publishing = (async () => {
        for (let i = 0; i < 60; i++) {
          await Promise.all(
            agents.map((agent) =>
              publishBatch(js, { site: SITE, agent, buffer: 'b1', first: i * 10 + 1, last: i * 10 + 10 }),
            ),
          );
          await sleep(10);
        }
      })();
      await waitFor('some rows stored', async () => ((await rows('a-kill-1')).n > 50 ? true : undefined));
      await cp.proc.kill();
      await publishing;
      // The killed replica's unacked messages come back after ack_wait (30 s) to the survivor.
      for (const agent of agents) await watermarkReaches(agent, 600, 60_000);
      for (const agent of agents) expect(await rows(agent)).toEqual({ n: 600, distinct: 600, max: 600 });
      cp = await spawnControlPlane(cpEnv, 'cp-a');
    }, 120_000);
  });
});
