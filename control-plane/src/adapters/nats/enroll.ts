import { EnrollRequest, EnrollResponse, subjects } from '@millwright/proto';
import { fromPublic } from '@nats-io/nkeys';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { type EnrollRefusalCode, refuse } from '../../domain/enrollment.js';
import type { EnrollInput, EnrollmentService, EnrollReply } from '../../fleet/enrollment.js';

const QUEUE = 'cp-enroll';
const MAX_REQUEST_BYTES = 64 * 1024;

export interface EnrollResponderDeps {
  nc: NatsConnection;
  enrollment: EnrollmentService;
  log: Logger;
  /** Counts requests that never reached the service (malformed, oversized). */
  onRejected?: (code: EnrollRefusalCode) => void;
}

/**
 * Answers EnrollRequest on `mw.v1.enroll.<site>` (queue group `cp-enroll`, so one replica answers).
 * Every request gets a reply: the response, or one with `error` set.
 */
export class EnrollResponder {
  private sub: Subscription | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly deps: EnrollResponderDeps) {}

  start(): void {
    this.sub = this.deps.nc.subscribe(subjects.enroll.any, { queue: QUEUE });
    this.loop = this.run(this.sub);
  }

  async stop(): Promise<void> {
    await this.sub?.drain();
    await this.loop;
  }

  private async run(sub: Subscription): Promise<void> {
    for await (const m of sub) {
      try {
        this.respond(m, await this.handle(m));
      } catch (err) {
        this.deps.log.error({ err, subject: m.subject }, 'fleet.enroll.failed');
        this.respond(m, { ok: false, code: 'invalid_request', reason: 'internal error, retry later' });
      }
    }
  }

  private async handle(m: Msg): Promise<EnrollReply> {
    const site = m.subject.split('.')[3] ?? '';
    const parsed = parseRequest(m.data);
    if ('code' in parsed) {
      this.deps.onRejected?.(parsed.code);
      this.deps.log.warn({ siteId: site, reason: parsed.reason }, 'fleet.enroll.refused');
      return parsed;
    }
    return this.deps.enrollment.enroll(parsed, site, `nats:${m.subject}`);
  }

  private respond(m: Msg, reply: EnrollReply): void {
    const res: EnrollResponse = reply.ok
      ? {
          agentId: reply.agentId,
          siteId: reply.siteId,
          natsUserJwt: reply.natsUserJwt,
          artifactTrustKeys: reply.trustKeys,
          error: '',
        }
      : { agentId: '', siteId: '', natsUserJwt: '', artifactTrustKeys: [], error: `${reply.code}: ${reply.reason}` };
    m.respond(EnrollResponse.encode(res).finish());
  }
}

/** Decodes an untrusted request; the nkey's checksum is verified here, where the nkeys library may be used. */
export function parseRequest(data: Uint8Array): EnrollInput | ReturnType<typeof refuse> {
  if (data.length > MAX_REQUEST_BYTES)
    return refuse('invalid_request', `request larger than ${MAX_REQUEST_BYTES} bytes`);
  let req: EnrollRequest;
  try {
    req = EnrollRequest.decode(data);
  } catch (err) {
    return refuse('invalid_request', `malformed EnrollRequest: ${(err as Error).message}`);
  }
  if (!isUserKey(req.nkeyPublic)) return refuse('invalid_request', 'nkey_public: not an nkey user public key');
  return {
    siteId: req.siteId,
    bootstrapToken: req.bootstrapToken,
    agentId: req.agentId,
    lineId: req.lineId,
    labels: req.labels,
    nkeyPublic: req.nkeyPublic,
    agentVersion: req.agentVersion,
  };
}

function isUserKey(key: string): boolean {
  try {
    fromPublic(key);
    return key.startsWith('U');
  } catch {
    return false;
  }
}
