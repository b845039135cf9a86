/**
 * The desired-state KV writer against a real nats-server: a value already in KV under the same
 * generation counts as written only when it says the same (its presigned URLs aside). Agents drop a
 * generation they have seen, so another state under that generation would never reach them.
 */
import { KvDesiredWriter } from '@millwright/control-plane/adapters/nats/desired-writer.js';
import type { DesiredSpec } from '@millwright/control-plane/rollouts/ports.js';
import { DesiredState, subjects } from '@millwright/proto';
import { type KV, Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsServer } from '../harness/index.js';

const SITE = 'plant-w';

function spec(agentId: string, generation: number, rolloutId: string): DesiredSpec {
  return {
    agentId,
    siteId: SITE,
    generation,
    model: {
      model: 'press',
      version: '1.0.0',
      sha256: 'ab'.repeat(32),
      sizeBytes: 10,
      signature: { keyId: 'k1', signature: 'c2ln', payload: 'cGF5bG9hZA==' },
    },
    shadow: undefined,
    switchPolicy: { condition: '', force: false, windows: [], timeZone: '' },
    config: undefined,
    rolloutId,
    reason: `rollout ${rolloutId}`,
    issuedAtMs: 1,
  };
}

describe('KvDesiredWriter and equal generations', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let kv: KV;
  let urls = 0;
  const logs: { msg: string; agentId?: string; generation?: number }[] = [];

  /** A writer as another replica (or a restarted one) has it: nothing cached. Every URL is fresh. */
  const writer = () =>
    new KvDesiredWriter({
      kv,
      presign: async () => ({ url: `https://s3/press?sig=${++urls}`, expiresAtMs: 1000 + urls }),
      now: () => 0,
      log: pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line)) }),
    });

  beforeAll(async () => {
    nats = await NatsServer.start();
    nc = await connect({ servers: nats.url });
    kv = await new Kvm(nc).create('mw_desired_writer_test', { history: 1 });
  });

  afterAll(async () => {
    await nc?.close();
    await nats?.dispose();
  });

  const stored = async (agentId: string) => {
    const e = await kv.get(subjects.agentKey(SITE, agentId));
    return e && { revision: e.revision, state: DesiredState.decode(e.value) };
  };

  it('takes the same state under the same generation for written, fresh URLs aside', async () => {
    const [first] = await writer().publish([spec('w1', 1, 'ro-1')]);
    expect(first).toMatchObject({ agentId: 'w1', generation: 1 });
    const again = await writer().publish([spec('w1', 1, 'ro-1')]);
    expect(again).toEqual([first]);
    expect((await stored('w1'))?.revision).toBe(first?.revision);
  });

  it('never reports another state under a generation already in KV as written, and says so', async () => {
    const sweep = writer();
    const [swept] = await sweep.publish([spec('w2', 1, '')]);
    // A second writer (no cache) and the first one (cached) both meet the other generation-1 state.
    for (const w of [writer(), sweep]) {
      logs.length = 0;
      expect(await w.publish([spec('w2', 1, 'ro-2')])).toEqual([]);
      expect(logs).toEqual([
        expect.objectContaining({
          agentId: 'w2',
          generation: 1,
          msg: expect.stringMatching(/^desired\.kv\.generation_conflict/),
        }),
      ]);
    }
    const now = await stored('w2');
    expect(now?.revision).toBe(swept?.revision);
    expect(now?.state.rolloutId).toBe('');
    // The next generation is written over it.
    const [next] = await writer().publish([spec('w2', 2, 'ro-2')]);
    expect(next).toMatchObject({ generation: 2 });
    expect((await stored('w2'))?.state.rolloutId).toBe('ro-2');
  });
});
