import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsServer, PostgresServer, S3Server } from './index.js';

describe('test harness', () => {
  let nats: NatsServer;
  let pg: PostgresServer;
  let s3: S3Server;

  beforeAll(async () => {
    [nats, pg, s3] = await Promise.all([
      NatsServer.start(),
      PostgresServer.start(),
      S3Server.start({ buckets: ['mw-test'] }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([nats?.dispose(), pg?.dispose(), s3?.dispose()]);
  });

  it('keeps JetStream messages across a kill -9 and restart on the same port', async () => {
    let nc = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'H', subjects: ['h.>'] });
    const ack = await jetstream(nc).publish('h.1', 'x');
    expect(ack.seq).toBe(1);
    await nc.close();
    await nats.kill();
    expect(nats.proc.running).toBe(false);
    await nats.restart();
    nc = await connect({ servers: nats.url });
    const info = await (await jetstreamManager(nc)).streams.info('H');
    // The store survives only if the server flushed it; kill -9 right after an ack may lose it (that is the point of
    // the end-to-end watermark), so here we only require the stream definition to survive.
    expect(info.config.name).toBe('H');
    await nc.close();
  });

  it('wipes the JetStream store of a stopped server', async () => {
    await nats.stop();
    await nats.wipeStore();
    await nats.restart();
    const nc = await connect({ servers: nats.url });
    const names = await (await jetstreamManager(nc)).streams.names().next();
    expect(names).toEqual([]);
    await nc.close();
  });

  it('gives each suite its own PostgreSQL database and survives a restart', async () => {
    const a = await pg.createDatabase();
    const b = await pg.createDatabase();
    expect(a).not.toBe(b);
    const sql = postgres(a, { max: 1 });
    await sql`create table t (x int)`;
    await sql`insert into t values (1)`;
    await sql.end();
    await pg.kill();
    await pg.restart();
    const sql2 = postgres(a, { max: 1 });
    const rows = await sql2`select x from t`;
    expect(rows.map((r) => r.x)).toEqual([1]);
    await sql2.end();
  });

  it('stores S3 objects byte for byte', async () => {
    const s3c = new S3Client({
      ...s3.endpoint,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    await s3c.send(new CreateBucketCommand({ Bucket: 'other' }));
    const body = Buffer.alloc(300_000, 7);
    await s3c.send(new PutObjectCommand({ Bucket: 'mw-test', Key: 'a/b', Body: body }));
    const got = await s3c.send(new GetObjectCommand({ Bucket: 'mw-test', Key: 'a/b' }));
    const bytes = Buffer.from(await got.Body!.transformToByteArray());
    expect(bytes.equals(body)).toBe(true);
    s3c.destroy();
  });
});
