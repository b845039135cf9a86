import { CommitWatermark, subjects } from '@millwright/proto';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { StreamWatermark } from '../../domain/records.js';
import type { WatermarkPublisher } from '../../ingest/ports.js';

interface Known {
  revision: number;
  bufferId: string;
  committedSeq: number;
}

const MAX_ATTEMPTS = 5;

/**
 * Writes CommitWatermark to KV `mw_watermark` under `<site>.<agent>` with compare-and-set on the
 * key's revision: two replicas finishing flushes for one agent in either order never leave an older
 * watermark of the same buffer in place.
 */
export class KvWatermarks implements WatermarkPublisher {
  private readonly known = new Map<string, Known>();

  constructor(private readonly deps: { kv: KV; now: () => number }) {}

  async publish(w: StreamWatermark): Promise<void> {
    const key = subjects.agentKey(w.siteId, w.agentId);
    const value = CommitWatermark.encode({
      agentId: w.agentId,
      bufferId: w.bufferId,
      committedSeq: w.committedSeq,
      updatedAtMs: this.deps.now(),
    }).finish();
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const cur = this.known.get(key) ?? (await this.read(key));
      if (cur && cur.bufferId === w.bufferId && cur.committedSeq >= w.committedSeq) return;
      try {
        const revision = cur
          ? await this.deps.kv.update(key, value, cur.revision)
          : await this.deps.kv.create(key, value);
        this.known.set(key, { revision, bufferId: w.bufferId, committedSeq: w.committedSeq });
        return;
      } catch (err) {
        if (!isWrongRevision(err)) throw err;
        this.known.delete(key);
      }
    }
    throw new Error(`watermark ${key}: gave up after ${MAX_ATTEMPTS} concurrent updates`);
  }

  private async read(key: string): Promise<Known | undefined> {
    const e = await this.deps.kv.get(key);
    if (e?.operation !== 'PUT') return undefined;
    const cw = CommitWatermark.decode(e.value);
    return { revision: e.revision, bufferId: cw.bufferId, committedSeq: cw.committedSeq };
  }
}

function isWrongRevision(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
      err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}
