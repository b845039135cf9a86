import { Heartbeat, subjects } from '@millwright/proto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../harness/index.js';
import { type Client, SecureStack, SITE } from './nats-stack.js';

const A = 'agent-a';
const B = 'agent-b';
const enc = new TextEncoder();
const dec = new TextDecoder();

describe('NATS least privilege: each agent holds its own JWT and can reach only its own subjects', () => {
  let stack: SecureStack;
  let a: Client;
  let cp: Client;

  beforeAll(async () => {
    stack = await SecureStack.start();
    await stack.spawnAgent(A);
    await stack.spawnAgent(B);
    // Heartbeats flow with the issued JWTs: the positive path of every permission below.
    await Promise.all([stack.waitOnline(A), stack.waitOnline(B)]);
    a = await stack.connectAs(await stack.credsOf(A), A);
    cp = await stack.connectAs(
      await import('node:fs/promises').then((f) => f.readFile(stack.auth.files.controlPlaneCreds)),
      'test-cp',
    );
    // The control plane keeps a desired state for B (a value A must never read).
    const kv = await new Kvm(jetstream(cp.nc)).open(subjects.KV.desired);
    await kv.put(subjects.agentKey(SITE, B), enc.encode('secret-desired-state-of-b'));
  }, 240_000);

  afterAll(async () => {
    await a?.close();
    await cp?.close();
    await stack?.dispose();
  });

  it('issued each agent a JWT bound to the nkey it generated, in a 0600 creds file', async () => {
    const { stat } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const st = await stat(join(stack.agents.get(A)!.dataDir, 'identity', 'agent.creds'));
    expect(st.mode & 0o777).toBe(0o600);
    const creds = (await stack.credsOf(A)).toString();
    const jwt = /-----BEGIN NATS USER JWT-----\n(.+)\n/.exec(creds)?.[1] ?? '';
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as {
      sub: string;
      nats: { pub: { allow: string[] } };
    };
    const identity = JSON.parse(
      await (await import('node:fs/promises')).readFile(
        join(stack.agents.get(A)!.dataDir, 'identity', 'identity.json'),
        'utf8',
      ),
    ) as { nkeyPublic: string };
    expect(claims.sub).toBe(identity.nkeyPublic);
    expect(claims.nats.pub.allow).toContain(`mw.v1.edge.${SITE}.${A}.>`);
  });

  it('refuses agent A publishing as agent B, and B never receives the forged message', async () => {
    const seen: string[] = [];
    const sub = cp.nc.subscribe(subjects.edge.all(SITE, B));
    void (async () => {
      for await (const m of sub) if (dec.decode(m.data).includes('forged')) seen.push(m.subject);
    })();
    await cp.nc.flush();
    const forged = Heartbeat.encode(
      Heartbeat.fromPartial({ agentId: B, siteId: SITE, agentVersion: 'forged' }),
    ).finish();
    a.nc.publish(subjects.edge.heartbeat(SITE, B), forged);
    a.nc.publish(subjects.edge.records(SITE, B), enc.encode('forged'));
    expect(
      await a.errorMatching(/Permissions Violation for Publish to "mw\.v1\.edge\.plant-s\.agent-b\.hb"/),
    ).toBeTruthy();
    // A round trip on B's subject as the control plane proves the subscription is live.
    cp.nc.publish(subjects.edge.state(SITE, B), enc.encode('marker'));
    await cp.nc.flush();
    sub.unsubscribe();
    expect(seen).toEqual([]);
  });

  it("cannot read B's desired state by KV get, direct get, watch, a consumer with another filter, stream info or message get", async () => {
    const js = jetstream(a.nc);
    const kv = await new Kvm(js).open(subjects.KV.desired, { allow_direct: true });
    const keyB = subjects.agentKey(SITE, B);
    await expect(kv.get(keyB)).rejects.toThrow(/permission|violation|timeout/i);
    await expect(
      (async () => {
        const w = await kv.watch({ key: keyB });
        for await (const e of w) return dec.decode(e.value);
      })(),
    ).rejects.toThrow(/permission|violation|timeout/i);
    const api = async (subject: string, body: unknown = {}) => {
      try {
        const m = await a.nc.request(subject, enc.encode(JSON.stringify(body)), { timeout: 3000 });
        return dec.decode(m.data);
      } catch (err) {
        return `refused: ${(err as Error).message}`;
      }
    };
    const stream = `KV_${subjects.KV.desired}`;
    const filterB = `$KV.${subjects.KV.desired}.${keyB}`;
    const filterA = `$KV.${subjects.KV.desired}.${subjects.agentKey(SITE, A)}`;
    const asks = {
      directGetB: await api(`$JS.API.DIRECT.GET.${stream}.${filterB}`),
      directGetBody: await api(`$JS.API.DIRECT.GET.${stream}`, { last_by_subj: filterB }),
      msgGet: await api(`$JS.API.STREAM.MSG.GET.${stream}`, { last_by_subj: filterB }),
      streamInfo: await api(`$JS.API.STREAM.INFO.${stream}`, { subjects_filter: '>' }),
      accountInfo: await api('$JS.API.INFO'),
      legacyCreate: await api(`$JS.API.CONSUMER.CREATE.${stream}`, {
        stream_name: stream,
        config: { filter_subject: filterB },
      }),
      wildcardCreate: await api(`$JS.API.CONSUMER.CREATE.${stream}.x.$KV.${subjects.KV.desired}.>`, {
        stream_name: stream,
        config: { name: 'x', filter_subject: `$KV.${subjects.KV.desired}.>` },
      }),
      consumerNames: await api(`$JS.API.CONSUMER.NAMES.${stream}`),
      consumerList: await api(`$JS.API.CONSUMER.LIST.${stream}`),
    };
    for (const [what, reply] of Object.entries(asks))
      expect(reply, what).toMatch(/^refused: .*(permission|violation)/i);
    // Its own filter in the subject but B's in the body: the server itself refuses the mismatch (10131).
    const mismatch = await api(`$JS.API.CONSUMER.CREATE.${stream}.y.${filterA}`, {
      stream_name: stream,
      config: {
        name: 'y',
        filter_subject: filterB,
        deliver_subject: `${subjects.inboxPrefix(A)}.y`,
        ack_policy: 'none',
      },
    });
    expect(mismatch).toMatch(/"err_code":10131/);
  });

  it("gets none of B's values by taking over B's live watch consumer, even knowing its name", async () => {
    const stream = `KV_${subjects.KV.desired}`;
    const filterA = `$KV.${subjects.KV.desired}.${subjects.agentKey(SITE, A)}`;
    const filterB = `$KV.${subjects.KV.desired}.${subjects.agentKey(SITE, B)}`;
    const jsm = await jetstreamManager(cp.nc);
    // The name is learnt out of band here (as the control plane); A itself cannot list consumers.
    const victim = await waitFor('B watch consumer', async () => {
      for (const c of await jsm.consumers.list(stream).next()) if (c.config.filter_subject === filterB) return c;
      return undefined;
    });
    const inbox = `${subjects.inboxPrefix(A)}.takeover`;
    const got: string[] = [];
    const sub = a.nc.subscribe(inbox);
    void (async () => {
      for await (const m of sub) if (m.data.length > 0) got.push(dec.decode(m.data));
    })();
    const body = { stream_name: stream, config: { ...victim.config, filter_subject: filterA, deliver_subject: inbox } };
    const reply = dec.decode(
      (
        await a.nc.request(
          `$JS.API.CONSUMER.CREATE.${stream}.${victim.name}.${filterA}`,
          enc.encode(JSON.stringify(body)),
          { timeout: 5000 },
        )
      ).data,
    );
    const kv = await new Kvm(jetstream(cp.nc)).open(subjects.KV.desired);
    await kv.put(subjects.agentKey(SITE, B), enc.encode('secret-desired-state-of-b-2'));
    await kv.put(subjects.agentKey(SITE, A), enc.encode('own-value-of-a'));
    if (!reply.includes('"error"')) await waitFor('A own value', async () => got.find((g) => g === 'own-value-of-a'));
    sub.unsubscribe();
    // B's value was written first: had the consumer delivered it to A, it would be here already.
    expect(got.filter((g) => g.includes('of-b'))).toEqual([]);
  });

  it('cannot subscribe to another client’s inbox, the shared _INBOX or any edge subject', async () => {
    for (const subject of [
      `${subjects.inboxPrefix(B)}.>`,
      '_INBOX.>',
      `${subjects.inboxPrefix('cp-control-plane')}.>`,
      'mw.v1.edge.>',
    ]) {
      const probe = await stack.connectAs(await stack.credsOf(A), A);
      probe.nc.subscribe(subject);
      expect(await probe.errorMatching(/Permissions Violation for Subscription/)).toBeTruthy();
      await probe.close();
    }
  });

  it('keeps no named or durable consumer on KV streams for an agent to take over, and hides consumer names', async () => {
    const jsm = await jetstreamManager(cp.nc);
    for (const bucket of [subjects.KV.desired, subjects.KV.watermark]) {
      const consumers = await jsm.consumers.list(`KV_${bucket}`).next();
      for (const c of consumers) expect(c.config.durable_name, `${bucket}/${c.name}`).toBeUndefined();
    }
    // Discovery is denied (see the previous test: CONSUMER.NAMES / LIST / INFO), and the account caps consumers.
    const info = await jsm.getAccountInfo();
    expect(info.limits.max_consumers).toBe(200);
  });

  it('cuts a decommissioned agent off at once, and its credentials stay refused after a server restart', async () => {
    const victim = await stack.connectAs(await stack.credsOf(A), A);
    const res = await stack.mwctl('fleet', 'decommission', A, '--reason', 'stolen gateway');
    expect(res.code, res.stderr).toBe(0);
    await waitFor(
      'A disconnected',
      async () => (victim.nc.isClosed() || victim.errors.length > 0 ? true : undefined),
      20_000,
    );
    await expect(stack.connectAs(await stack.credsOf(A), A)).rejects.toThrow(/authorization|revoked|auth/i);
    await stack.nats.restart();
    await expect(stack.connectAs(await stack.credsOf(A), A)).rejects.toThrow(/authorization|revoked|auth/i);
    // B, not revoked, still connects.
    const b = await stack.connectAs(await stack.credsOf(B), B);
    await b.close();
    await victim.close();
    expect(stack.nats.proc.stdout).toMatch(/revoked|Authorization Error|authentication/i);
  });

  it('lets the bootstrap user do nothing but ask to enrol', async () => {
    const { readFile } = await import('node:fs/promises');
    const boot = await stack.connectAs(await readFile(stack.auth.files.bootstrapCreds), 'enroll');
    boot.nc.publish(subjects.edge.heartbeat(SITE, B), enc.encode('x'));
    expect(await boot.errorMatching(/Permissions Violation for Publish/)).toBeTruthy();
    await boot.close();
    const boot2 = await stack.connectAs(await readFile(stack.auth.files.bootstrapCreds), 'enroll');
    boot2.nc.subscribe(subjects.enroll.any);
    expect(await boot2.errorMatching(/Permissions Violation for Subscription/)).toBeTruthy();
    await boot2.close();
  });

  it('never writes the nkey seed, the bootstrap token or the JWT into agent or control-plane logs', async () => {
    const { readFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const dir = stack.agents.get(B)!.dataDir;
    const seed = (await readFile(join(dir, 'identity', 'nkey.seed'), 'utf8')).trim();
    const jwt = /-----BEGIN NATS USER JWT-----\n(.+)\n/.exec((await stack.credsOf(B)).toString())?.[1] ?? '';
    expect(seed).toMatch(/^SU/);
    for (const log of [await readFile(join(dir, 'agent.log'), 'utf8'), stack.cp.proc.stdout]) {
      expect(log.length).toBeGreaterThan(0);
      for (const secret of [seed, stack.bootstrapToken, jwt, stack.cp.adminToken]) expect(log).not.toContain(secret);
    }
  });

  it('shows the refusals in the nats-server log', async () => {
    const { readFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const log = await readFile(join(stack.auth.dir, 'nats.log'), 'utf8');
    expect(log).toMatch(/Publish Violation.*mw\.v1\.edge\.plant-s\.agent-b\.hb/);
    expect(log).toMatch(/Subscription Violation/);
  });
});
