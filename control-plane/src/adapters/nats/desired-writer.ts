import { createHash } from 'node:crypto';
import { type DesiredModel, DesiredState, subjects } from '@millwright/proto';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import type { TrustBundleData } from '../../registry/domain.js';
import type { DesiredModelRef, DesiredSpec, DesiredStateBus, DesiredStore } from '../../rollouts/ports.js';

/** A fresh presigned GET URL for a version's artifact (the registry's getArtifactUrl). */
export type Presigner = (model: string, version: string) => Promise<{ url: string; expiresAtMs: number }>;

/** The newest signed trust bundle (the registry's trustBundle); undefined before the first key change. */
export type TrustSource = () => Promise<TrustBundleData | undefined>;

interface Known {
  revision: number;
  generation: number;
  /** `contentHash` of the value under that revision. */
  content: string;
}

const IN_FLIGHT = 256;
const MAX_ATTEMPTS = 5;

/** DesiredSpec + fresh URLs (+ the newest trust bundle) -> the DesiredState protobuf the agent watches. */
export async function toProto(s: DesiredSpec, presign: Presigner, trust?: TrustBundleData): Promise<DesiredState> {
  return DesiredState.fromPartial({
    agentId: s.agentId,
    siteId: s.siteId,
    generation: s.generation,
    model: s.model ? await modelToProto(s.model, presign) : undefined,
    shadow: s.shadow ? await modelToProto(s.shadow, presign) : undefined,
    switchPolicy: {
      condition: s.switchPolicy.condition,
      force: s.switchPolicy.force,
      windows: s.switchPolicy.windows.map((w) => ({ cron: w.cron, durationS: w.durationS })),
      timeZone: s.switchPolicy.timeZone,
    },
    config: s.config,
    rolloutId: s.rolloutId,
    reason: s.reason,
    issuedAtMs: s.issuedAtMs,
    trust: trust && {
      payload: Buffer.from(trust.payload, 'base64'),
      signatures: trust.signatures.map((x) => ({ keyId: x.keyId, signature: Buffer.from(x.signature, 'base64') })),
    },
    resignatures: (s.resignatures ?? []).map((r) => ({
      model: r.model,
      version: r.version,
      signature: { ...r.signature },
    })),
  });
}

/**
 * What a desired state says, apart from its short-lived presigned URLs (fresh on every write): two
 * values with the same generation are the same state only when these hashes match.
 */
export function contentHash(d: DesiredState): string {
  const plain = (m: DesiredModel | undefined) => m && { ...m, artifactUrl: '', urlExpiresAtMs: 0 };
  const bytes = DesiredState.encode({ ...d, model: plain(d.model), shadow: plain(d.shadow) }).finish();
  return createHash('sha256').update(bytes).digest('hex');
}

async function modelToProto(m: DesiredModelRef, presign: Presigner): Promise<DesiredModel> {
  const { url, expiresAtMs } = await presign(m.model, m.version);
  return {
    model: m.model,
    version: m.version,
    artifactUrl: url,
    urlExpiresAtMs: expiresAtMs,
    sha256: m.sha256,
    sizeBytes: m.sizeBytes,
    signature: { ...m.signature },
  };
}

/**
 * Writes desired states to KV `mw_desired` under `<site>.<agent>`, many in flight. Compare-and-set on
 * the key's revision: a replica that lost leadership mid-write can never replace a newer generation
 * with an older one (an agent restarting would otherwise read the older value). A value already there
 * with the same generation counts as written only when its content is the same: agents drop a
 * generation they have seen, so different content under one generation would never reach them; it is
 * logged (`desired.kv.generation_conflict`) and left pending, never reported as written.
 */
export class KvDesiredWriter implements DesiredStateBus {
  private readonly known = new Map<string, Known>();
  private readonly presigned = new Map<string, { url: string; expiresAtMs: number; atMs: number }>();

  constructor(
    private readonly deps: { kv: KV; presign: Presigner; now: () => number; trust?: TrustSource; log?: Logger },
  ) {}

  async publish(states: DesiredSpec[]): Promise<{ agentId: string; generation: number; revision: number }[]> {
    const out: { agentId: string; generation: number; revision: number }[] = [];
    // Read after the states were committed: a key change committed before them is in this bundle.
    const trust = await this.deps.trust?.();
    let next = 0;
    const worker = async () => {
      while (next < states.length) {
        const s = states[next++]!;
        const revision = await this.write(s, trust);
        if (revision !== undefined) out.push({ agentId: s.agentId, generation: s.generation, revision });
      }
    };
    await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, states.length) }, worker));
    return out;
  }

  /** One URL per version per batch period: presigning is CPU work, 100k agents share a handful of versions. */
  private presign: Presigner = async (model, version) => {
    const key = `${model}@${version}`;
    const cached = this.presigned.get(key);
    const now = this.deps.now();
    // Reuse while more than 80 % of its lifetime is left, so every agent still gets a long-lived URL.
    if (cached && now - cached.atMs < 0.2 * (cached.expiresAtMs - cached.atMs)) return cached;
    const fresh = { ...(await this.deps.presign(model, version)), atMs: now };
    this.presigned.set(key, fresh);
    return fresh;
  };

  private async write(s: DesiredSpec, trust: TrustBundleData | undefined): Promise<number | undefined> {
    const key = subjects.agentKey(s.siteId, s.agentId);
    const state = await toProto(s, this.presign, trust);
    const content = contentHash(state);
    const value = DesiredState.encode(state).finish();
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      // Generation 1 was never written by anyone: create directly (compare-and-set on "no value", so a
      // stray value still fails and is read on the next attempt), saving a get per new agent.
      const cur = this.known.get(key) ?? (s.generation === 1 && attempt === 0 ? undefined : await this.read(key));
      if (cur && cur.generation > s.generation) return undefined;
      if (cur && cur.generation === s.generation) {
        if (cur.content === content) return cur.revision;
        this.deps.log?.error(
          { agentId: s.agentId, generation: s.generation, revision: cur.revision },
          'desired.kv.generation_conflict: KV holds other content under this generation; not written',
        );
        return undefined;
      }
      try {
        const revision = cur
          ? await this.deps.kv.update(key, value, cur.revision)
          : await this.deps.kv.create(key, value);
        this.known.set(key, { revision, generation: s.generation, content });
        return revision;
      } catch (err) {
        if (!isWrongRevision(err)) throw err;
        this.known.delete(key);
      }
    }
    throw new Error(`desired state ${key}: gave up after ${MAX_ATTEMPTS} concurrent updates`);
  }

  private async read(key: string): Promise<Known | undefined> {
    const e = await this.deps.kv.get(key);
    if (!e) return undefined;
    if (e.operation !== 'PUT' || e.value.length === 0) return { revision: e.revision, generation: 0, content: '' };
    const d = DesiredState.decode(e.value);
    return { revision: e.revision, generation: d.generation, content: contentHash(d) };
  }
}

/**
 * Writes every desired state whose KV write is pending (oldest first, `batch` per round) and records
 * the revisions. Stops when nothing is left, after a round that wrote nothing (failing rows are not
 * rewritten over and over) or after `maxRounds`.
 * @returns how many were written.
 * @throws when the last round left some unwritten (they stay pending for the repair pass), or when
 *   the KV or Postgres fails.
 */
export async function publishPending(
  desired: Pick<DesiredStore, 'pendingKv' | 'markWritten'>,
  bus: DesiredStateBus,
  opts: { now: () => number; batch?: number; maxRounds?: number },
): Promise<number> {
  const batch = opts.batch ?? 5000;
  let total = 0;
  let failed = 0;
  for (let round = 0; round < (opts.maxRounds ?? 40); round++) {
    const pending = await desired.pendingKv(opts.now() + 1, batch);
    if (pending.length === 0) break;
    const written = await bus.publish(pending);
    await desired.markWritten(written);
    total += written.length;
    failed = pending.length - written.length;
    if (written.length === 0 || pending.length < batch) break;
  }
  if (failed > 0) throw new Error(`${failed} desired states were not written to KV (left to the repair pass)`);
  return total;
}

function isWrongRevision(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
      err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}
