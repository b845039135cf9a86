/**
 * Config-only rollouts judged by what the config does to the model's output, with real agents:
 * health gates compare the canary since it took the config with agents that did not get it yet
 * (the model version is the same on both sides). Also: a config some members refuse is stored without
 * them, and a stage without agents says so when it times out.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ManagedProcess, spawnAgent, waitFor } from '../harness/index.js';
import { type DecisionJson, type GateJson, RolloutStack, SLOW } from './rollouts-stack.js';

/**
 * g1 and g2 (the `group: spiky` agents) run asset pump1 and h1 runs pump2. Every 100 ms frame of
 * vib_h carries one electrical spike (about 200 g): the spike filter keeps it out of the features,
 * and without the filter it lifts the window's rms by several g.
 */
const AGENTS = [
  { id: 'g1', site: 'plant-g', line: 'L1', asset: 'pump1', labels: { group: 'spiky' } },
  { id: 'g2', site: 'plant-g', line: 'L2', asset: 'pump1', labels: { group: 'spiky' } },
  { id: 'h1', site: 'plant-h', line: 'L1', asset: 'pump2', labels: {} },
];
/** The wear model is `score = vib_h.rms + INTERCEPT`, alerting at 1000: about 995.1 on a clean window. */
const INTERCEPT = 995;
const SPIKY = { labels: { group: 'spiky' } };
const anomalyGate = { metric: 'GATE_METRIC_ANOMALY_RATE_DELTA', threshold: 0.2, minSamples: 100 };
/** Long enough to judge, short enough that a gate starved of samples shows up as a timeout. */
const STAGE_TIMEOUT_S = 150;

/** Canary (one of the two spiky agents), then both, judged on the anomaly rate only. */
function anomalySpec(config: Record<string, unknown>) {
  const stage = (name: string, percent: number) => ({
    name,
    percent,
    bakeS: 0,
    timeoutS: STAGE_TIMEOUT_S,
    gates: [anomalyGate],
  });
  return {
    model: 'press',
    target: SPIKY,
    stages: [stage('canary', 50), stage('full', 100)],
    failureAction: 'FAILURE_ACTION_ROLLBACK',
    config,
  };
}

const gateOf = (d: DecisionJson | undefined, metric: string): GateJson | undefined =>
  d?.gates?.find((g) => g.metric === metric);

describe('config rollouts judged on the model output by agent and time', () => {
  let stack: RolloutStack;
  const procs: ManagedProcess[] = [];

  async function startAgent(a: (typeof AGENTS)[number], trustKey: string): Promise<void> {
    const env: Record<string, string> = {
      MW_AGENT_ID: a.id,
      MW_SITE_ID: a.site,
      MW_LINE_ID: a.line,
      MW_LABELS: JSON.stringify({ hardware: 'x86', machine_type: 'press', ...a.labels }),
      MW_NATS_URL: stack.nats.url,
      MW_DATA_DIR: await mkdtemp(join(tmpdir(), `mw-rollout-${a.id}-`)),
      MW_HEARTBEAT_INTERVAL_S: '0.5',
      MW_REPORTS_INTERVAL_S: '1',
      MW_TRUST_KEYS: JSON.stringify([trustKey]),
      MW_UPDATE_SWITCH_CHECK_S: '1',
      MW_UPDATE_RETRY_BACKOFF_MIN_MS: '200',
      MW_UPDATE_RETRY_BACKOFF_MAX_MS: '2000',
      MW_FEATURES_VIBRATION_WINDOW_SIZE: '256',
      MW_SOURCES: JSON.stringify([
        {
          type: 'simulator',
          id: 'sim',
          seed: [...a.id].reduce((n, c) => n + c.charCodeAt(0), 0),
          assets: [
            {
              name: a.asset,
              vibrationRateHz: 2560,
              bearingFault: null,
              // 36,000/h at 256 samples per 100 ms frame: one spike in every frame.
              spikes: { ratePerHour: 36_000, channels: ['vib_h'], vibrationG: 200 },
            },
          ],
        },
      ]),
    };
    procs.push(await spawnAgent(env, a.id));
  }

  /** Config layers stored by a rollout. */
  const layersOf = async (rolloutId: string) =>
    (
      await stack.sql`select scope, selector, config from config_layers where rollout_id = ${rolloutId} order by id`
    ).map((r) => ({
      scope: String(r.scope),
      selector: r.selector as Record<string, string>,
      config: r.config as Record<string, unknown>,
    }));

  /** Waits until the agent reports its current desired state's config in effect. */
  async function untilConfigApplied(agentId: string): Promise<void> {
    const d = await stack.desired(agentId);
    await waitFor(
      `${agentId} reports config generation ${d.generation}`,
      async () => {
        const [row] = await stack.sql`select max(config_generation)::int as cg from agent_model_events
          where agent_id = ${agentId}`;
        return Number(row?.cg) >= d.generation ? true : undefined;
      },
      SLOW,
      250,
    );
  }

  beforeAll(async () => {
    stack = await RolloutStack.start('mw-rollouts-config-gates');
    await stack.push('1.0.0', INTERCEPT);
    await stack.push('2.0.0', INTERCEPT);
    const [key] = await stack.json<{ publicKey: string }[]>('models', 'keys');
    for (const a of AGENTS) await startAgent(a, key!.publicKey);
    await stack.untilOnline(AGENTS.map((a) => a.id));
    const r = await stack.startRollout('--model', 'press', '--version', '1.0.0', '--gate', 'active_fraction>=1:3');
    await stack.untilStatus(r.id, 'succeeded');
  }, 300_000);

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await stack?.dispose();
  }, 120_000);

  it('reverts a config that makes the canary alert on every window: the anomaly-rate gate fails at canary', async () => {
    // Turning the spike filter off lets every glitch into the rms: the wear model alerts on nearly every window.
    const r = await stack.startSpec(anomalySpec({ cleaning: { defaults: { hampel: null } } }));
    const s = await stack.untilStatus(r.id, 'rolled_back', 240_000);
    const failed = s.decisions.find((d) => d.kind === 'gate_failed');
    expect(failed?.stage ?? 0).toBe(0);
    const gate = gateOf(failed, 'GATE_METRIC_ANOMALY_RATE_DELTA');
    expect(gate?.outcome).toBe('fail');
    expect(gate?.value ?? 0).toBeGreaterThan(0.2);
    expect(gate?.samples ?? 0).toBeGreaterThanOrEqual(100);
    // Exactly one spiky agent was told; the other (the baseline) never was, and nothing was stored.
    const told = [];
    for (const id of ['g1', 'g2']) if ((await stack.desired(id)).rolloutId === r.id) told.push(id);
    expect(told).toHaveLength(1);
    expect(await layersOf(r.id)).toEqual([]);
    // The canary is sent back to the stored layers (none) and takes that config.
    const canary = told[0]!;
    await waitFor(
      'the canary sent back',
      async () => String((await stack.desired(canary)).state.reason).startsWith('rollback of') || undefined,
      SLOW,
      250,
    );
    expect((await stack.desired(canary)).state.config).toBeUndefined();
    await untilConfigApplied(canary);
  }, 360_000);

  it('passes a harmless cleaning change on the same gate, at canary and at full, and stores it', async () => {
    const config = { cleaning: { defaults: { hampel: { k: 8 } } } };
    const r = await stack.startSpec(anomalySpec(config));
    const s = await stack.untilStatus(r.id, 'succeeded', 300_000);
    for (const kind of ['stage_advanced', 'succeeded']) {
      const gate = gateOf(
        s.decisions.find((d) => d.kind === kind),
        'GATE_METRIC_ANOMALY_RATE_DELTA',
      );
      expect(gate?.outcome, kind).toBe('pass');
      expect(gate?.samples ?? 0, kind).toBeGreaterThanOrEqual(100);
    }
    expect(await layersOf(r.id)).toEqual([{ scope: 'label_group', selector: SPIKY.labels, config }]);
  }, 360_000);

  it('stores a config without the members that refused it, so their later desired states leave it out', async () => {
    // Only h1 has pump2.vib_h, so only h1 checks (and refuses) the drift sibling; the others ignore it.
    const config = { cleaning: { channels: { 'pump2.vib_h': { drift: { siblings: ['pump2.nope'] } } } } };
    const r = await stack.startSpec({
      model: 'press',
      target: {},
      stages: [
        {
          name: 'full',
          percent: 100,
          bakeS: 0,
          timeoutS: STAGE_TIMEOUT_S,
          // Both gates need all three agents' outcomes, and pass with one of three failed.
          gates: [
            { metric: 'GATE_METRIC_SELF_TEST_PASS_RATE', threshold: 0.5, minSamples: 3 },
            { metric: 'GATE_METRIC_ACTIVE_FRACTION', threshold: 0.5, minSamples: 3 },
          ],
        },
      ],
      failureAction: 'FAILURE_ACTION_ROLLBACK',
      config,
    });
    await stack.untilStatus(r.id, 'succeeded', 240_000);
    const refused = (await stack.modelEvents(r.id)).filter((e) => e.phase === 'failed');
    expect(new Set(refused.map((e) => e.agentId))).toEqual(new Set(['h1']));
    expect(refused[0]!.reason).toMatch(/config refused/);
    expect(await layersOf(r.id)).toEqual([
      { scope: 'fleet', selector: {}, config },
      { scope: 'exclusion', selector: { agent: 'h1' }, config: {} },
    ]);
    // The next desired states come from the stored layers: g1 and g2 keep the config, h1 goes without it.
    const m = await stack.startRollout('--model', 'press', '--version', '2.0.0', '--gate', 'active_fraction>=1:3');
    await stack.untilStatus(m.id, 'succeeded', 240_000);
    for (const id of ['g1', 'g2']) {
      const d = await stack.desired(id);
      expect(d.rolloutId).toBe(m.id);
      expect(d.state.config).toMatchObject(config);
      await untilConfigApplied(id);
    }
    const h1 = await stack.desired('h1');
    expect(h1.rolloutId).toBe(m.id);
    expect(h1.state.config).toBeUndefined();
    await stack.untilRunning('h1', '2.0.0');
    await untilConfigApplied('h1');
  }, 360_000);

  it('says that a stage has no agents when it times out waiting for gate samples', async () => {
    const spec = {
      model: 'press',
      target: { labels: { group: 'nobody' } },
      stages: [
        {
          name: 'canary',
          percent: 50,
          bakeS: 0,
          timeoutS: 2,
          gates: [{ metric: 'GATE_METRIC_SELF_TEST_PASS_RATE', threshold: 1, minSamples: 1 }],
        },
        { name: 'full', percent: 100, bakeS: 0, gates: [] },
      ],
      failureAction: 'FAILURE_ACTION_ROLLBACK',
      config: { alerts: { holdOffS: 5 } },
    };
    const file = join(stack.dir, 'nobody.json');
    await writeFile(file, JSON.stringify(spec));
    const plan = await stack.json<{ warnings?: string[] }>('rollouts', 'plan', '--spec', file);
    expect(plan.warnings).toContain(
      'stage canary gets no agents: its gates get no samples, so it waits for its timeout',
    );
    const r = await stack.startRollout('--spec', file);
    const s = await stack.untilStatus(r.id, 'paused');
    const timeout = s.decisions.find((d) => d.kind === 'stage_timeout');
    expect(timeout?.reason).toMatch(
      /^stage canary timed out after \d+ s without enough data: the stage has no agents .*self_test_pass_rate insufficient/,
    );
    await stack.ok('rollouts', 'abort', r.id, '--reason', 'nobody to roll out to');
  }, 120_000);
});
