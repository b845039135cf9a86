import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManagedProcess, REPO_ROOT, waitFor } from '../harness/index.js';

interface Overview {
  counts: { online: number; stale: number; offline: number };
  versions: Record<string, number>;
}

/** `pnpm demo` headless for a bounded time, checked through the dashboard's JSON API. */
describe('pnpm demo', () => {
  let demo: ManagedProcess | undefined;

  afterAll(async () => {
    await demo?.stop(30_000);
  });

  it('brings up two plants online with predictions flowing, then stops cleanly on Ctrl-C', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mw-demo-e2e-'));
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MW_')));
    demo = new ManagedProcess({
      name: 'demo',
      command: process.execPath,
      args: [join(REPO_ROOT, 'test/dist/demo/main.js'), '--for', '600'],
      env,
      logFile: join(dir, 'demo.log'),
    });
    await demo.start();
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
    const online = await waitFor(
      'all six agents online running the baseline',
      async () => {
        const o = await api<Overview>('/api/overview');
        return o.counts.online === 6 && o.versions['1.0.0'] === 6 ? o : undefined;
      },
      120_000,
      1000,
    );
    expect(online.counts).toEqual({ online: 6, stale: 0, offline: 0 });

    type Prediction = { predictionId: string; reasons: { feature: string }[]; decision: string };
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
  });
});
