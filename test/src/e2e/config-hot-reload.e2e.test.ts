/**
 * Cleaning parameters and capture policy changed live through config rollouts: a real agent process
 * (simulated pump with electrical glitches on its current channel), NATS, PostgreSQL, S3 and the
 * control plane. What the agent did is read back from the records the control plane ingested.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ManagedProcess, spawnAgent, waitFor } from '../harness/index.js';
import { RolloutStack, SLOW } from './rollouts-stack.js';

const AGENT = 'hot1';
const CHANNEL = 'pump1.current';
/** Both gates an agent passes only once it reports the config generation carrying the layer. */
const CONVERGED = ['self_test_pass_rate>=1:1', 'active_fraction>=1:1'];

interface CleaningReport {
  startMs: number;
  endMs: number;
  points: number;
  spikes: number;
}

/** mwctl flags of a config-only rollout to the whole fleet in one stage; a refusal pauses it (no revert). */
function configRollout(config: Record<string, unknown>): string[] {
  const gates = CONVERGED.flatMap((g) => ['--gate', g]);
  return [
    '--model',
    'press',
    '--config',
    JSON.stringify(config),
    '--stages',
    '100:0',
    ...gates,
    '--failure-action',
    'pause',
  ];
}

describe('hot config at the edge: cleaning parameters and capture policy change live', () => {
  let stack: RolloutStack;
  let agent: ManagedProcess | undefined;

  /** The agent's cleaning reports for the glitchy channel, as ingested. */
  async function cleaning(): Promise<CleaningReport[]> {
    const rows = await stack.sql<{ body: { cleaning: Record<string, unknown> } }[]>`
      select body from records where agent_id = ${AGENT} and kind = 'cleaning' order by ts`;
    return rows.flatMap(({ body }) => {
      const c = body.cleaning as { startMs: string; endMs: string; channels: Record<string, string>[] };
      const q = c.channels.find((ch) => ch.channel === CHANNEL);
      if (!q) return [];
      const n = (v: string | undefined) => Number(v ?? 0);
      return [{ startMs: n(c.startMs), endMs: n(c.endMs), points: n(q.points), spikes: n(q.spikes) }];
    });
  }

  /** Times of the captured samples the control plane ingested. */
  async function samples(): Promise<number[]> {
    const rows = await stack.sql<{ ms: string }[]>`
      select (extract(epoch from ts) * 1000)::bigint as ms from records
      where agent_id = ${AGENT} and kind = 'sample' order by ts`;
    return rows.map((r) => Number(r.ms));
  }

  /** Waits for `n` cleaning reports that began after `sinceMs` (so wholly under the config then in effect). */
  const reportsAfter = (sinceMs: number, n: number) =>
    waitFor(
      `${n} cleaning reports after ${sinceMs}`,
      async () => {
        const after = (await cleaning()).filter((r) => r.startMs >= sinceMs && r.points > 0);
        return after.length >= n ? after : undefined;
      },
      SLOW,
      500,
    );

  /** Starts a config rollout; resolves with the agent's report time of the generation it wrote. */
  async function rollOut(config: Record<string, unknown>, status: 'succeeded' | 'paused') {
    const r = await stack.startRollout(...configRollout(config));
    await stack.untilStatus(r.id, status);
    const d = await stack.desired(AGENT);
    expect(d.rolloutId).toBe(r.id);
    const events = await stack.modelEvents(r.id);
    return { id: r.id, generation: d.generation, desired: d.state, events };
  }

  beforeAll(async () => {
    stack = await RolloutStack.start('mw-config-hot');
    await stack.push('1.0.0', 0);
    const [key] = await stack.json<{ publicKey: string }[]>('models', 'keys');
    agent = await spawnAgent(
      {
        MW_AGENT_ID: AGENT,
        MW_SITE_ID: 'plant-h',
        MW_NATS_URL: stack.nats.url,
        MW_DATA_DIR: await mkdtemp(join(tmpdir(), `mw-${AGENT}-`)),
        MW_HEARTBEAT_INTERVAL_S: '0.5',
        MW_REPORTS_INTERVAL_S: '1',
        MW_TRUST_KEYS: JSON.stringify([key!.publicKey]),
        MW_UPDATE_SWITCH_CHECK_S: '1',
        MW_FEATURES_VIBRATION_WINDOW_SIZE: '256',
        // About one 180 A glitch per second on the 10 Hz current channel, and no other data faults.
        MW_SOURCES: JSON.stringify([
          {
            type: 'simulator',
            id: 'sim',
            seed: 11,
            assets: [
              {
                name: 'pump1',
                vibrationRateHz: 2560,
                bearingFault: null,
                spikes: { ratePerHour: 3600, channels: ['current'] },
                dropouts: null,
                stuck: null,
                nans: null,
              },
            ],
          },
        ]),
      },
      AGENT,
    );
    await stack.untilOnline([AGENT]);
    const r = await stack.startRollout('--model', 'press', '--version', '1.0.0', '--gate', 'active_fraction>=1:1');
    await stack.untilStatus(r.id, 'succeeded');
  }, 300_000);

  afterAll(async () => {
    await agent?.stop();
    await stack?.dispose();
  }, 120_000);

  it('stops flagging the glitches once a higher spike limit is rolled out, without a restart', async () => {
    const before = await reportsAfter(0, 3);
    expect(before.some((r) => r.spikes > 0)).toBe(true);
    const pid = agent!.pid;

    const r = await rollOut({ cleaning: { channels: { [CHANNEL]: { hampel: { k: 1e6 } } } } }, 'succeeded');
    const applied = r.events.find((e) => e.configGeneration >= r.generation);
    expect(applied).toBeDefined();
    const after = await reportsAfter(applied!.atMs, 4);
    expect(after.map((x) => x.spikes)).toEqual(after.map(() => 0));
    expect(agent!.running && agent!.pid === pid).toBe(true);
  }, 300_000);

  it('starts capturing once a capture policy is layered over the cleaning change', async () => {
    expect(await samples()).toEqual([]);
    const r = await rollOut(
      { capture: { enabled: true, randomRate: 1, alerts: false, uncertain: false } },
      'succeeded',
    );
    // The earlier rollout's layer stays under this one: both reach the agent in one config.
    expect(r.desired.config).toEqual({
      cleaning: { channels: { [CHANNEL]: { hampel: { k: 1e6 } } } },
      capture: { enabled: true, randomRate: 1, alerts: false, uncertain: false },
    });
    const applied = r.events.find((e) => e.configGeneration >= r.generation)!;
    await waitFor('captured samples', async () => ((await samples()).length >= 5 ? true : undefined), SLOW, 500);
    const after = await reportsAfter(applied.atMs, 2);
    expect(after.map((x) => x.spikes)).toEqual(after.map(() => 0));
  }, 300_000);

  it('refuses an overlay that does not fit its channels and keeps running the previous config', async () => {
    const r = await rollOut(
      {
        capture: { enabled: false },
        cleaning: { channels: { [CHANNEL]: { drift: { siblings: ['pump1.no_such_channel'] } } } },
      },
      'paused',
    );
    const refused = r.events.find((e) => e.phase === 'failed');
    expect(refused?.reason).toMatch(
      /^config refused: config does not fit this agent: cleaning of channel pump1\.current: .*\(sibling pump1\.no_such_channel\)$/,
    );
    expect(refused!.configGeneration).toBeLessThan(r.generation);
    // Still capturing (the refused overlay would have turned it off) and still not flagging glitches.
    await waitFor(
      'samples captured after the refusal',
      async () => ((await samples()).some((t) => t > refused!.atMs) ? true : undefined),
      SLOW,
      500,
    );
    const after = await reportsAfter(refused!.atMs, 2);
    expect(after.map((x) => x.spikes)).toEqual(after.map(() => 0));
  }, 300_000);
});
