import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bearingDataDir, RIG, rigRun } from '../demo/rig.js';
import { ManagedProcess, REPO_ROOT, waitFor } from '../harness/index.js';

interface Overview {
  counts: { online: number; stale: number; offline: number };
  versions: Record<string, number>;
}

type Prediction = {
  predictionId: string;
  tsMs: number;
  modelVersion: string;
  reasons: { feature: string; text: string }[];
  decision: 'normal' | 'alert' | 'unknown';
};

/** Indicators the pack computes per channel (edge-agent/src/pack/bearing/indicators.ts). */
const INDICATOR = /^(horizontal_acc|vertical_acc)\.(rms|peak|crest|kurtosis|band_\d+_\d+|env_(ftf|bpfo|bpfi|bsf))$/;

async function demoProcess(name: string, args: string[]): Promise<ManagedProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'mw-demo-e2e-'));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MW_')));
  return new ManagedProcess({
    name,
    command: process.execPath,
    args: [join(REPO_ROOT, 'test/dist/demo/main.js'), ...args],
    env,
    logFile: join(dir, 'demo.log'),
  }).start();
}

/** `pnpm demo` headless for a bounded time, checked through the dashboard's JSON API. */
describe('pnpm demo', () => {
  let demo: ManagedProcess | undefined;

  afterAll(async () => {
    await demo?.stop(30_000);
  });

  it('refuses to start without the bearing data, saying where it looked and how to point elsewhere', async () => {
    const missing = join(tmpdir(), 'mw-no-bearings-here');
    const p = await demoProcess('demo-no-data', ['--bearings', missing, '--for', '60']);
    await waitFor('the demo to exit', () => (p.exitCode !== undefined ? true : undefined), 30_000, 100);
    expect(p.exitCode).toBe(1);
    expect(p.stdout).toContain(`bearing data not found: ${join(missing, 'femto', `femto_${RIG.run}.json`)}`);
    expect(p.stdout).toMatch(/--bearings DIR/);
    expect(p.stdout).not.toMatch(/starting the control plane/);
  });

  it('brings up two plants and the test rig, which detects its real bearing degradation with reasons; stops cleanly on Ctrl-C', async () => {
    demo = await demoProcess('demo', ['--for', '900']);
    // Progress is visible while it starts.
    await demo.waitForOutput(/\[demo\].*starting the control plane/, 60_000);
    const [, url, token] = await demo.waitForOutput(/dashboard\s+(http:\/\/\S+)\/\?token=(\S+)/, 240_000);
    const api = async <T>(path: string): Promise<T> => {
      const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status, path).toBe(200);
      return (await res.json()) as T;
    };

    const html = await (await fetch(`${url}/`)).text();
    expect(html).toContain('<title>Millwright</title>');
    // Six simulated agents on the fleet model and the rig on the pack, all at 1.0.0 but the one
    // agent the canary may already have moved to 1.1.0.
    const online = await waitFor(
      'all seven agents online running their 1.0.0',
      async () => {
        const o = await api<Overview>('/api/overview');
        const [base, canary] = [o.versions['1.0.0'] ?? 0, o.versions['1.1.0'] ?? 0];
        return o.counts.online === 7 && base >= 6 && base + canary === 7 ? o : undefined;
      },
      120_000,
      1000,
    );
    expect(online.counts).toEqual({ online: 7, stale: 0, offline: 0 });

    const first = await waitFor(
      'predictions of the agent with the developing bearing fault',
      async () => {
        const p = await api<Prediction[]>('/api/agents/north-pump-1/predictions?limit=5');
        return p.length > 0 ? p : undefined;
      },
      120_000,
      1000,
    );
    expect(first[0]!.reasons.length).toBeGreaterThan(0);
    await waitFor(
      'newer predictions (they keep flowing)',
      async () => {
        const p = await api<Prediction[]>('/api/agents/north-pump-1/predictions?limit=1');
        return p[0] && p[0].predictionId !== first[0]!.predictionId ? true : undefined;
      },
      60_000,
      1000,
    );

    // The rig: commissioning on the run's first minutes, healthy windows, then the pack's alert,
    // each alert explained by the indicators that moved.
    const rig = await waitFor(
      `an alert of the pack on ${RIG.agent}`,
      async () => {
        const p = await api<Prediction[]>(`/api/agents/${RIG.agent}/predictions?limit=500`);
        return p.some((x) => x.decision === 'alert') ? p.sort((a, b) => a.tsMs - b.tsMs) : undefined;
      },
      300_000,
      2000,
    );
    const firstAlert = rig.findIndex((p) => p.decision === 'alert');
    const before = rig.slice(0, firstAlert);
    expect(before[0]!.decision).toBe('unknown');
    expect(before.filter((p) => p.decision === 'normal').length).toBeGreaterThan(5);
    expect(rig.every((p) => p.modelVersion === RIG.version)).toBe(true);
    const alert = rig[firstAlert]!;
    expect(alert.reasons.length).toBeGreaterThan(0);
    expect(alert.reasons[0]!.feature).toMatch(INDICATOR);
    expect(alert.reasons[0]!.text).toMatch(/x baseline$/);
    // Detected as the issue defines it: after commissioning (the run's first 10 minutes) and at least
    // 10 minutes before the failure, in the recording's own time.
    const run = rigRun(bearingDataDir([], {}));
    const minute = ((alert.tsMs - rig[0]!.tsMs) * RIG.pace) / 60_000;
    expect(minute).toBeGreaterThan(10);
    expect(minute).toBeLessThan((run.failureMs - run.startMs) / 60_000 - 10);
    await demo.waitForOutput(new RegExp(`\\[demo\\].*${RIG.agent}: bearing alert at minute`), 30_000);

    const session = await api<{ features: { rolloutActions: boolean } }>('/api/session');
    if (session.features.rolloutActions) {
      await waitFor(
        'the canary rollout to progress',
        async () => {
          const list = await api<{ version: string; decisions: unknown[] }[]>('/api/rollouts');
          return list.some((r) => r.version === '1.1.0' && r.decisions.length > 0) ? true : undefined;
        },
        180_000,
        2000,
      );
    }

    demo.signal('SIGINT');
    await waitFor('the demo to exit', () => (demo!.exitCode !== undefined ? true : undefined), 60_000, 200);
    expect(demo.exitCode).toBe(0);
    expect(demo.stdout).toMatch(/\[demo\].*stopped/);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  }, 900_000);
});
