import { ArtifactUrlRequest, ArtifactUrlResponse, subjects } from '@millwright/proto';
import type { NatsConnection } from '@nats-io/transport-node';
import { ErrorCode, MillwrightError } from '../../domain/errors.js';
import type { ArtifactUrlSource } from '../../update/ports.js';

/** Asks the control plane for a fresh presigned URL on `mw.v1.edge.<site>.<agent>.url`. */
export class NatsArtifactUrlSource implements ArtifactUrlSource {
  private readonly subject: string;

  constructor(private readonly deps: { nc: () => NatsConnection; siteId: string; agentId: string; timeoutMs: number }) {
    this.subject = subjects.edge.artifactUrl(deps.siteId, deps.agentId);
  }

  async refresh(model: string, version: string, signal: AbortSignal): Promise<{ url: string; expiresAtMs: number }> {
    signal.throwIfAborted();
    const req = ArtifactUrlRequest.encode({ agentId: this.deps.agentId, model, version }).finish();
    let res: ArtifactUrlResponse;
    try {
      const msg = await this.deps.nc().request(this.subject, req, { timeout: this.deps.timeoutMs });
      res = ArtifactUrlResponse.decode(msg.data);
    } catch (err) {
      throw new MillwrightError(
        ErrorCode.UNAVAILABLE,
        `artifact URL request failed: ${(err as Error).message}`,
        {},
        { cause: err },
      );
    }
    if (res.error || !res.url) {
      throw new MillwrightError(
        ErrorCode.NOT_FOUND,
        `control plane refused an artifact URL: ${res.error || 'empty URL'}`,
        {
          model,
          version,
        },
      );
    }
    return { url: res.url, expiresAtMs: res.expiresAtMs };
  }
}
