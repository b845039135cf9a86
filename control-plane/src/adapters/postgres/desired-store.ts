import type { DesiredSpec, DesiredStore } from '../../rollouts/ports.js';
import type { Sql } from './db.js';
import { DESIRED_STATES_LOCK } from './desired-lock.js';
import { iso } from './rollout-store.js';

const CHUNK = 2000;

/**
 * Desired states in `desired_states`, the source of truth behind KV `mw_desired`. Generations grow by
 * one per write; every write runs under the desired-states lock (desired-lock.ts), taken first.
 * `kv_revision` is null until the KV write of that generation lands.
 * The stored state is the DesiredSpec (DesiredState without the short-lived URL) as JSON.
 */
export class PostgresDesiredStore implements DesiredStore {
  constructor(private readonly deps: { sql: Sql }) {}

  async update(
    agents: { agentId: string; siteId: string }[],
    build: (agentId: string, current: DesiredSpec | undefined) => Omit<DesiredSpec, 'generation'>,
  ): Promise<DesiredSpec[]> {
    const out: DesiredSpec[] = [];
    for (let i = 0; i < agents.length; i += CHUNK)
      out.push(...(await this.updateChunk(agents.slice(i, i + CHUNK), build)));
    return out;
  }

  private async updateChunk(
    agents: { agentId: string; siteId: string }[],
    build: (agentId: string, current: DesiredSpec | undefined) => Omit<DesiredSpec, 'generation'>,
  ): Promise<DesiredSpec[]> {
    const ids = agents.map((a) => a.agentId).sort();
    return this.deps.sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(${DESIRED_STATES_LOCK})`;
      const rows = await tx`select agent_id, generation, state from desired_states where agent_id = any(${ids}::text[])
        order by agent_id for update`;
      const current = new Map(
        rows.map((r) => [String(r.agent_id), { gen: Number(r.generation), state: r.state as DesiredSpec }]),
      );
      const next = ids.map((id): DesiredSpec => {
        const cur = current.get(id);
        const built = build(id, cur?.state);
        // The last key change's re-signatures stay until the next key change replaces them: an agent
        // offline since sees only the newest generation and still needs them.
        const resignatures = built.resignatures ?? cur?.state.resignatures;
        return { ...built, ...(resignatures?.length ? { resignatures } : {}), generation: (cur?.gen ?? 0) + 1 };
      });
      const json = JSON.stringify(
        next.map((s) => ({ a: s.agentId, s: s.siteId, g: s.generation, st: s, r: s.rolloutId || null })),
      );
      // generation + 1 of the stored row even on a conflict: generations only ever grow, so the KV
      // writer and the agent never see two different states under one generation.
      const stored =
        await tx`insert into desired_states (agent_id, site_id, generation, state, rollout_id, kv_revision, updated_at)
        select a, s, g, st, r, null, now() from jsonb_to_recordset(${json}::jsonb) as x(a text, s text, g bigint, st jsonb, r text)
        on conflict (agent_id) do update set site_id = excluded.site_id, generation = desired_states.generation + 1,
          state = excluded.state || jsonb_build_object('generation', desired_states.generation + 1),
          rollout_id = excluded.rollout_id, kv_revision = null, updated_at = now()
        returning agent_id, generation`;
      const generation = new Map(stored.map((r) => [String(r.agent_id), Number(r.generation)]));
      return next.map((s) => ({ ...s, generation: generation.get(s.agentId) ?? s.generation }));
    }) as Promise<DesiredSpec[]>;
  }

  async get(agentId: string): Promise<DesiredSpec | undefined> {
    const [row] = await this.deps.sql`select generation, state from desired_states where agent_id = ${agentId}`;
    return row ? { ...(row.state as DesiredSpec), generation: Number(row.generation) } : undefined;
  }

  async pendingKv(olderThanMs: number, limit: number): Promise<DesiredSpec[]> {
    const rows = await this.deps.sql`select generation, state from desired_states
      where kv_revision is null and updated_at < ${iso(olderThanMs)} order by updated_at limit ${limit}`;
    return rows.map((r) => ({ ...(r.state as DesiredSpec), generation: Number(r.generation) }));
  }

  async markWritten(written: { agentId: string; generation: number; revision: number }[]): Promise<void> {
    for (let i = 0; i < written.length; i += 5000) {
      const json = JSON.stringify(
        written.slice(i, i + 5000).map((w) => ({ a: w.agentId, g: w.generation, r: w.revision })),
      );
      // Many rows in no particular order: under the writers' lock, or it could deadlock with them.
      await this.deps.sql.begin(async (tx) => {
        await tx`select pg_advisory_xact_lock(${DESIRED_STATES_LOCK})`;
        await tx`update desired_states d set kv_revision = x.r
          from jsonb_to_recordset(${json}::jsonb) as x(a text, g bigint, r bigint)
          where d.agent_id = x.a and d.generation = x.g`;
      });
    }
  }
}
