/**
 * Every NATS subject, stream, consumer and KV bucket name in Millwright, versioned with the proto
 * package. Documented in docs/ARCHITECTURE.md; nothing else builds subject strings.
 *
 * An agent publishes only under `mw.v1.edge.<site>.<agent>.>`, so its NATS permissions are a prefix.
 */

/** Site and agent ids become subject tokens and KV keys: keep them to a safe alphabet. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}

function token(id: string, what: string): string {
  if (!isValidId(id)) throw new TypeError(`invalid ${what} id for a NATS subject: ${JSON.stringify(id)}`);
  return id;
}

export const ROOT = 'mw.v1';

/** Edge -> cloud subjects of one agent. */
export const edge = {
  prefix: (site: string, agent: string) => `${ROOT}.edge.${token(site, 'site')}.${token(agent, 'agent')}`,
  all: (site: string, agent: string) => `${edge.prefix(site, agent)}.>`,
  heartbeat: (site: string, agent: string) => `${edge.prefix(site, agent)}.hb`,
  records: (site: string, agent: string) => `${edge.prefix(site, agent)}.rec`,
  state: (site: string, agent: string) => `${edge.prefix(site, agent)}.state`,
  artifactUrl: (site: string, agent: string) => `${edge.prefix(site, agent)}.url`,
  /** Wildcards the control plane consumes. */
  anyHeartbeat: `${ROOT}.edge.*.*.hb`,
  anyRecords: `${ROOT}.edge.*.*.rec`,
  anyState: `${ROOT}.edge.*.*.state`,
  anyArtifactUrl: `${ROOT}.edge.*.*.url`,
} as const;

/** Parses `mw.v1.edge.<site>.<agent>.<kind>`; undefined when the subject is not of that shape. */
export function parseEdgeSubject(subject: string): { site: string; agent: string; kind: string } | undefined {
  const parts = subject.split('.');
  if (parts.length !== 6 || parts[0] !== 'mw' || parts[1] !== 'v1' || parts[2] !== 'edge') return undefined;
  const [, , , site, agent, kind] = parts as [string, string, string, string, string, string];
  if (!isValidId(site) || !isValidId(agent)) return undefined;
  return { site, agent, kind };
}

/** Enrollment requests, answered by the control plane (queue group `cp-enroll`). */
export const enroll = {
  site: (site: string) => `${ROOT}.enroll.${token(site, 'site')}`,
  any: `${ROOT}.enroll.*`,
} as const;

/** Dead letters, one subject per reason code. */
export const dlq = {
  forCode: (code: string) => `${ROOT}.dlq.${code}`,
  any: `${ROOT}.dlq.>`,
} as const;

/** Control-plane events for watchers, webhooks and trainers. */
export const events = {
  rollout: (id: string) => `${ROOT}.cp.events.rollout.${token(id, 'rollout')}`,
  anyRollout: `${ROOT}.cp.events.rollout.*`,
  retraining: `${ROOT}.cp.events.retraining`,
  fleet: `${ROOT}.cp.events.fleet`,
  any: `${ROOT}.cp.events.>`,
} as const;

export const STREAMS = {
  /** Latest heartbeat per agent (max one message per subject). */
  heartbeats: 'MW_HEARTBEATS',
  /** Record batches from agents; deduplicated by message id. */
  records: 'MW_RECORDS',
  /** Agents' actual-state reports. */
  state: 'MW_STATE',
  deadLetters: 'MW_DLQ',
  events: 'MW_EVENTS',
} as const;

export const CONSUMERS = {
  heartbeats: 'cp-heartbeats',
  records: 'cp-records',
  state: 'cp-state',
} as const;

export const KV = {
  /** DesiredState per agent, key `<site>.<agent>`. */
  desired: 'mw_desired',
  /** CommitWatermark per agent, key `<site>.<agent>`. */
  watermark: 'mw_watermark',
} as const;

export function agentKey(site: string, agent: string): string {
  return `${token(site, 'site')}.${token(agent, 'agent')}`;
}

/** Per-client inbox prefix: a shared `_INBOX` would let one client read another's replies. */
export function inboxPrefix(clientId: string): string {
  return `_INBOX_${clientId.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

/** Message id header value for a record batch: deterministic, so a resend is deduplicated. */
export function batchMsgId(agent: string, firstSeq: number, lastSeq: number): string {
  return `${agent}:${firstSeq}-${lastSeq}`;
}
