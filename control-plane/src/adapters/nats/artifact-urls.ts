import { ArtifactUrlRequest, ArtifactUrlResponse, subjects } from '@millwright/proto';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { DesiredStore } from '../../rollouts/ports.js';
import type { Presigner } from './desired-writer.js';

const QUEUE = 'cp-url';
const MAX_REQUEST_BYTES = 4096;

/**
 * Answers ArtifactUrlRequest on `mw.v1.edge.<site>.<agent>.url` (queue group `cp-url`) with a fresh
 * presigned URL, only for a version the agent's stored desired state names (model or shadow): an
 * agent cannot fetch artifacts it was never given.
 */
export class ArtifactUrlResponder {
  private sub: Subscription | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly deps: { nc: NatsConnection; desired: DesiredStore; presign: Presigner; log: Logger }) {}

  start(): void {
    this.sub = this.deps.nc.subscribe(subjects.edge.anyArtifactUrl, { queue: QUEUE });
    this.loop = this.run(this.sub);
  }

  async stop(): Promise<void> {
    await this.sub?.drain();
    await this.loop;
  }

  private async run(sub: Subscription): Promise<void> {
    for await (const m of sub) {
      const res = await this.handle(m).catch((err: unknown) => {
        this.deps.log.error({ err, subject: m.subject }, 'rollout.artifact_url.failed');
        return { url: '', expiresAtMs: 0, error: 'internal error, retry later' };
      });
      m.respond(ArtifactUrlResponse.encode(res).finish());
    }
  }

  private async handle(m: Msg): Promise<ArtifactUrlResponse> {
    const refuse = (error: string) => ({ url: '', expiresAtMs: 0, error });
    const where = subjects.parseEdgeSubject(m.subject);
    if (!where || m.data.length > MAX_REQUEST_BYTES) return refuse('bad request');
    let req: ArtifactUrlRequest;
    try {
      req = ArtifactUrlRequest.decode(m.data);
    } catch {
      return refuse('request does not decode');
    }
    if (req.agentId && req.agentId !== where.agent) return refuse('identity_mismatch: agent differs from the subject');
    const d = await this.deps.desired.get(where.agent);
    const named = [d?.model, d?.shadow].some((x) => x && x.model === req.model && x.version === req.version);
    if (!d || d.siteId !== where.site || !named) {
      this.deps.log.warn(
        { agentId: where.agent, model: req.model, version: req.version },
        'rollout.artifact_url.refused',
      );
      return refuse(`not_desired: ${req.model}@${req.version} is not in this agent's desired state`);
    }
    const { url, expiresAtMs } = await this.deps.presign(req.model, req.version);
    return { url, expiresAtMs, error: '' };
  }
}
