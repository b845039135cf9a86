import { InvalidArgumentError, NotFoundError } from '../domain/errors.js';
import type { Agent, AgentFilter } from '../domain/fleet.js';
import type { Clock, FleetStore } from './ports.js';

const MAX_PAGE = 1000;
const DEFAULT_PAGE = 100;

/** Read side of the fleet registry used by the gRPC API and the dashboard. */
export class FleetService {
  constructor(private readonly deps: { store: FleetStore; clock: Clock }) {}

  async getAgent(id: string): Promise<Agent> {
    if (!id) throw new InvalidArgumentError('id', 'required');
    const agent = await this.deps.store.getAgent(id, this.deps.clock.now());
    if (!agent) throw new NotFoundError('agent', id);
    return agent;
  }

  async listAgents(
    filter: AgentFilter,
    pageSize: number,
    pageToken: string,
  ): Promise<{ agents: Agent[]; nextPageToken: string; total: number }> {
    if (pageSize > MAX_PAGE) throw new InvalidArgumentError('page.page_size', `at most ${MAX_PAGE}`);
    const limit = pageSize || DEFAULT_PAGE;
    const afterId = pageToken ? decodeToken(pageToken) : undefined;
    const { agents, total } = await this.deps.store.listAgents(filter, { limit, afterId }, this.deps.clock.now());
    const last = agents.at(-1);
    const nextPageToken = agents.length === limit && last ? encodeToken(last.id) : '';
    return { agents, nextPageToken, total };
  }
}

function encodeToken(id: string): string {
  return Buffer.from(`a:${id}`).toString('base64url');
}

function decodeToken(token: string): string {
  const text = Buffer.from(token, 'base64url').toString('utf8');
  if (!text.startsWith('a:')) throw new InvalidArgumentError('page.page_token', 'not a token from a previous page');
  return text.slice(2);
}
