import type { Logger } from 'pino';
import type { NatsLink } from './adapters/nats/link.js';
import { JetStreamBatchPublisher, KvWatermarkFeed } from './adapters/nats/records.js';
import type { ReadBatch } from './buffer/reader.js';
import type { AgentConfig } from './config.js';
import type { BatchPublisher, Watermark, WatermarkFeed } from './sync/ports.js';

/**
 * Sync's NATS side over a connection that may not exist yet: publishing fails with UNAVAILABLE
 * (sync backs off and retries) and the watermark watch starts once the first connection is up.
 */
export function uplink(deps: { link: NatsLink; config: Readonly<AgentConfig>; bufferId: string; log: Logger }): {
  publisher: BatchPublisher;
  watermarks: WatermarkFeed;
} {
  const { link, config, bufferId, log } = deps;
  let publisher: JetStreamBatchPublisher | undefined;
  let feed: KvWatermarkFeed | undefined;
  let stopped = false;
  return {
    publisher: {
      publish(batch: ReadBatch, fromSeq?: number): Promise<void> {
        publisher ??= new JetStreamBatchPublisher({
          js: link.jetstream(),
          agentId: config.agentId,
          siteId: config.siteId,
          bufferId,
          timeoutMs: config.sync.publishTimeoutMs,
          now: Date.now,
        });
        return publisher.publish(batch, fromSeq);
      },
    },
    watermarks: {
      async start(onWatermark: (w: Watermark) => void): Promise<void> {
        void link.ready.then(async (nc) => {
          if (stopped) return;
          feed = new KvWatermarkFeed({
            nc,
            siteId: config.siteId,
            agentId: config.agentId,
            onError: (err) => log.debug({ err }, 'sync.watermark_watch_failed'),
          });
          await feed.start(onWatermark);
        });
      },
      async stop(): Promise<void> {
        stopped = true;
        await feed?.stop();
      },
    },
  };
}
