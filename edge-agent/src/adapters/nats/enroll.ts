import { readFile } from 'node:fs/promises';
import { EnrollRequest, EnrollResponse, subjects } from '@millwright/proto';
import { createUser, fromSeed } from '@nats-io/nkeys';
import { connect, credsAuthenticator } from '@nats-io/transport-node';
import type { EnrollClient, EnrollReplyData, EnrollRequestData, UserKeys } from '../../enroll/ports.js';
import { type NatsTls, tlsOption } from './connect.js';

/**
 * Enrollment over a short-lived NATS connection of its own: the agent's regular connection uses the
 * credentials that enrollment produces. With decentralised auth this connection uses the shared
 * bootstrap user (`enroll.bootstrapCredsFile`), which may only publish `mw.v1.enroll.*` and read the
 * bootstrap inbox `_INBOX_enroll`, hence that inbox prefix here.
 */
export class NatsEnrollClient implements EnrollClient {
  constructor(private readonly opts: { url: string; agentId: string; credsFile?: string | undefined; tls?: NatsTls }) {}

  async enroll(req: EnrollRequestData, timeoutMs: number): Promise<EnrollReplyData> {
    const creds = this.opts.credsFile ? await readFile(this.opts.credsFile) : undefined;
    const nc = await connect({
      servers: this.opts.url.split(','),
      name: `enroll-${this.opts.agentId}`,
      inboxPrefix: subjects.inboxPrefix('enroll'),
      timeout: timeoutMs,
      ...(creds ? { authenticator: credsAuthenticator(creds) } : {}),
      ...tlsOption(this.opts.url, this.opts.tls),
    });
    try {
      const msg = await nc.request(subjects.enroll.site(req.siteId), EnrollRequest.encode(req).finish(), {
        timeout: timeoutMs,
      });
      return toReply(EnrollResponse.decode(msg.data));
    } finally {
      await nc.close();
    }
  }
}

function toReply(res: EnrollResponse): EnrollReplyData {
  if (res.error) return { ok: false, error: res.error };
  return {
    ok: true,
    agentId: res.agentId,
    siteId: res.siteId,
    natsUserJwt: res.natsUserJwt,
    trustKeys: res.artifactTrustKeys,
  };
}

/** nkey user keys (the seed never leaves the agent; only the public key is sent). */
export const nkeyUserKeys: UserKeys = {
  create() {
    const kp = createUser();
    return { publicKey: kp.getPublicKey(), seed: new TextDecoder().decode(kp.getSeed()) };
  },
  publicKeyOf(seed: string) {
    return fromSeed(new TextEncoder().encode(seed)).getPublicKey();
  },
};
