/**
 * The NATS permissions and limits of every Millwright user and of the MILLWRIGHT account, as JWT
 * claims. What held and what broke on nats-server 2.9.10 is in ../shared TOOLCHAIN notes and
 * docs/SECURITY.md; every subject comes from @millwright/proto's subjects module.
 */
import { subjects } from '@millwright/proto';

/** Largest message any agent may publish: a record batch (MW_RECORDS takes 4 MiB). */
export const AGENT_MAX_PAYLOAD = 4 * 1024 * 1024;
/** Enrollment requests are small (the control plane refuses more than 64 KiB). */
export const BOOTSTRAP_MAX_PAYLOAD = 64 * 1024;
/** An agent needs a handful of subscriptions (its inbox, two KV watches). */
const AGENT_MAX_SUBS = 32;

const KV_BUCKETS = [subjects.KV.desired, subjects.KV.watermark] as const;

export interface UserClaims {
  pub: { allow: string[]; deny?: string[] };
  sub: { allow: string[]; deny?: string[] };
  subs: number;
  payload: number;
  data: number;
}

/**
 * An agent may publish only under its own `mw.v1.edge.<site>.<agent>.>`, create (ordered, ephemeral)
 * consumers filtered to its own key of each bucket through the extended consumer-create subject,
 * direct-get its own keys, answer flow control of its watches, and subscribe only to its own inbox.
 * Never allowed: `$JS.API.STREAM.MSG.GET` (key in the body), legacy `CONSUMER.CREATE.<stream>`,
 * `STREAM.INFO` (lists keys), `$JS.API.INFO`, consumer delete or durable create.
 */
export function agentUserClaims(site: string, agent: string): UserClaims {
  const key = subjects.agentKey(site, agent);
  const kv = KV_BUCKETS.flatMap((b) => [
    `$JS.API.CONSUMER.CREATE.KV_${b}.*.$KV.${b}.${key}`,
    `$JS.API.DIRECT.GET.KV_${b}.$KV.${b}.${key}`,
    `$JS.FC.KV_${b}.>`,
  ]);
  return {
    pub: { allow: [subjects.edge.all(site, agent), ...kv] },
    sub: { allow: [`${subjects.inboxPrefix(agent)}.>`] },
    subs: AGENT_MAX_SUBS,
    payload: AGENT_MAX_PAYLOAD,
    data: -1,
  };
}

/** Inbox prefix of every enrolling agent's bootstrap connection. */
export const BOOTSTRAP_INBOX = subjects.inboxPrefix('enroll');

/**
 * The shared bootstrap user: it can only send enrollment requests and read replies on the
 * bootstrap inbox. Replies carry only a JWT bound to the requester's own nkey and public trust
 * keys, so another enrolling agent reading them learns nothing it could use.
 */
export function bootstrapUserClaims(): UserClaims {
  return {
    pub: { allow: [subjects.enroll.any] },
    sub: { allow: [`${BOOTSTRAP_INBOX}.>`] },
    subs: 4,
    payload: BOOTSTRAP_MAX_PAYLOAD,
    data: -1,
  };
}

export interface AccountLimitOptions {
  /** JetStream disk the account may reserve (streams' max_bytes x replicas). @default 40 GiB */
  diskBytes?: number;
  /** @default 512 MiB */
  memBytes?: number;
  /** Consumers in the account: every agent's KV watches count. @default 10000 */
  maxConsumers?: number;
  /** @default -1 (no limit) */
  maxConnections?: number;
}

/**
 * Explicit MILLWRIGHT account limits: the JWT library sets no JetStream limits (JetStream is then
 * off), and passing any `limits` replaces its NATS defaults, so everything is spelled out.
 */
export function accountLimits(o: AccountLimitOptions = {}): Record<string, number | boolean> {
  return {
    subs: -1,
    data: -1,
    payload: AGENT_MAX_PAYLOAD,
    imports: -1,
    exports: -1,
    wildcards: true,
    conn: o.maxConnections ?? -1,
    leaf: -1,
    mem_storage: o.memBytes ?? 512 * 1024 ** 2,
    disk_storage: o.diskBytes ?? 40 * 1024 ** 3,
    streams: 64,
    consumer: o.maxConsumers ?? 10_000,
  };
}
