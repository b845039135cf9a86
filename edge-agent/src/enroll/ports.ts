/** What the agent sends to enrol (EnrollRequest without proto types). */
export interface EnrollRequestData {
  siteId: string;
  bootstrapToken: string;
  agentId: string;
  lineId: string;
  labels: Record<string, string>;
  nkeyPublic: string;
  agentVersion: string;
}

export type EnrollReplyData =
  | { ok: true; agentId: string; siteId: string; natsUserJwt: string; trustKeys: string[] }
  | { ok: false; error: string };

/** Sends one enrollment request; throws on transport problems (no responders, timeout), which are retried. */
export interface EnrollClient {
  enroll(req: EnrollRequestData, timeoutMs: number): Promise<EnrollReplyData>;
}

/** nkey user key pairs (adapters/nats/enroll.ts). */
export interface UserKeys {
  /** A new key pair; the seed is the secret. */
  create(): { publicKey: string; seed: string };
  publicKeyOf(seed: string): string;
}
