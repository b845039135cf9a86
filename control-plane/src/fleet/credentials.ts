/**
 * SECURITY ISSUE SEAM. At enrollment the control plane asks this port for the agent's own NATS user
 * credentials, bound to the nkey public key the agent generated (its seed never leaves the agent);
 * at decommission it asks for them to be revoked. With decentralised NATS auth the implementation
 * signs a user JWT with the account key and limits permissions to the agent's own subjects and KV keys
 * (see docs/ARCHITECTURE.md, Identities). Without it, `NoopCredentialIssuer` is used.
 */
export interface AgentCredentialIssuer {
  /** @returns the user JWT to send in EnrollResponse.nats_user_jwt ('' when auth is off). */
  issue(agent: AgentKeyBinding): Promise<{ natsUserJwt: string }>;
  /** Cuts the agent off (decommission). */
  revoke(agent: AgentKeyBinding): Promise<void>;
}

export interface AgentKeyBinding {
  agentId: string;
  siteId: string;
  nkeyPublic: string;
}

/** Used while NATS runs without decentralised auth: agents connect with the shared configuration. */
export class NoopCredentialIssuer implements AgentCredentialIssuer {
  async issue(): Promise<{ natsUserJwt: string }> {
    return { natsUserJwt: '' };
  }

  async revoke(): Promise<void> {}
}
