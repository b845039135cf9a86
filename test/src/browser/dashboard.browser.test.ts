/**
 * The dashboard in Debian's chromium (playwright-core) against the real control plane and real
 * agents with simulated sensors: pages render real data, a live update arrives without reload, an
 * operator labels a prediction and a read-only viewer is refused. Screenshots go to
 * test-results/browser/ (kept as CI artefacts).
 */
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDirect, pushModel, trustKey } from '../demo/fleet-model.js';
import {
  type ControlPlaneProcess,
  type ManagedProcess,
  mwctl,
  NatsServer,
  PostgresServer,
  REPO_ROOT,
  S3Server,
  spawnAgent,
  spawnControlPlane,
  waitFor,
} from '../harness/index.js';

const SHOTS = join(REPO_ROOT, 'test-results', 'browser');
const SITE = 'plant-b';
/** Pitfall 7 of TOOLCHAIN.md; never a downloaded browser. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

function sources(asset: string, seed: number, bearing: boolean): string {
  return JSON.stringify([
    {
      type: 'simulator',
      id: 'sim',
      seed,
      timeCompression: 600,
      assets: [
        {
          name: asset,
          vibrationRateHz: 6400,
          bearingFault: bearing ? { onsetH: 0.2, progressionH: 4, resonanceHz: 1500, resonanceBandwidthHz: 300 } : null,
        },
      ],
    },
  ]);
}

describe('the dashboard in a real browser', () => {
  let nats: NatsServer;
  let pg: PostgresServer;
  let s3: S3Server;
  let cp: ControlPlaneProcess;
  let browser: Browser;
  let page: Page;
  let viewerToken: string;
  const agents = new Map<string, ManagedProcess>();
  const ctl = (...args: string[]) => mwctl([...args, '--server', cp.grpcAddr], { MW_ACTOR: 'browser-test' });

  beforeAll(async () => {
    await mkdir(SHOTS, { recursive: true });
    [nats, pg, s3] = await Promise.all([NatsServer.start(), PostgresServer.start(), S3Server.start()]);
    const dir = await mkdtemp(join(tmpdir(), 'mw-browser-'));
    const e = s3.endpoint;
    cp = await spawnControlPlane({
      MW_DATABASE_URL: await pg.createDatabase(),
      MW_NATS_URL: nats.url,
      MW_S3_ENDPOINT: e.endpoint,
      MW_S3_REGION: e.region,
      MW_S3_BUCKET: 'mw-browser',
      MW_S3_ACCESS_KEY_ID: e.accessKeyId,
      MW_S3_SECRET_ACCESS_KEY: e.secretAccessKey,
      MW_S3_FORCE_PATH_STYLE: 'true',
      MW_SIGNING_DEV_KEY_DIR: join(dir, 'keys'),
      MW_HEALTH_STALE_AFTER_S: '3',
      MW_HEALTH_OFFLINE_AFTER_S: '6',
      MW_HEALTH_SWEEP_INTERVAL_S: '1',
      MW_DASHBOARD_POLL_MS: '500',
    });
    await pushModel(ctl, dir, '1.0.0');
    const key = await trustKey(ctl);
    for (const [id, bearing, line] of [
      ['b-pump-1', true, 'L1'],
      ['b-fan-2', false, 'L2'],
    ] as const) {
      const proc = await spawnAgent({
        MW_AGENT_ID: id,
        MW_SITE_ID: SITE,
        MW_LINE_ID: line,
        MW_NATS_URL: nats.url,
        MW_HEARTBEAT_INTERVAL_S: '1',
        MW_REPORTS_INTERVAL_S: '2',
        MW_TRUST_KEYS: key,
        MW_SOURCES: sources(id.split('-')[1]!, id.length, bearing),
      });
      agents.set(id, proc);
    }
    await deployDirect(
      ctl,
      nats.url,
      '1.0.0',
      [...agents.keys()].map((agent) => ({ site: SITE, agent })),
    );
    const created = await ctl('tokens-api', 'create', 'vera-viewer', '--role', 'viewer', '--json');
    expect(created.code, created.stderr).toBe(0);
    viewerToken = (JSON.parse(created.stdout) as { secret: string }).secret;
    await waitFor('predictions of b-pump-1 stored', () => predictions('b-pump-1', cp.adminToken), 90_000, 500);
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  });

  afterAll(async () => {
    await browser?.close();
    for (const a of agents.values()) await a.stop();
    await cp?.proc.stop();
    await Promise.all([nats?.dispose(), pg?.dispose(), s3?.dispose()]);
  });

  async function predictions(agent: string, token: string) {
    const res = await fetch(`${cp.httpUrl}/api/agents/${agent}/predictions?limit=5`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const list = (await res.json()) as { predictionId: string; label: { kind: string } | null }[];
    return list.length > 0 ? list : undefined;
  }

  it('shows the fleet overview with real agents, counts and running versions', async () => {
    await page.goto(`${cp.httpUrl}/?token=${cp.adminToken}#/`);
    await page.locator('[data-agent="b-pump-1"][data-health="online"]').waitFor({ timeout: 30_000 });
    await page.locator('[data-agent="b-fan-2"][data-health="online"]').waitFor({ timeout: 30_000 });
    expect(await page.locator('[data-count="online"] .n').textContent()).toBe('2');
    expect(await page.locator(`[data-site="${SITE}"]`).textContent()).toContain('1.0.0');
    // The token left the address bar once stored.
    expect(page.url()).not.toContain('token=');
    await page.screenshot({ path: join(SHOTS, 'overview.png'), fullPage: true });
  });

  it('explains predictions on the agent page with their top contributing features', async () => {
    await page.locator('a[data-agent="b-pump-1"]').click();
    const row = page.locator('[data-testid="predictions"] tbody tr').first();
    await row.waitFor({ timeout: 30_000 });
    expect(await row.textContent()).toMatch(/vib_h\.(kurtosis|rms|crest)/);
    expect(await page.locator('[data-testid="cleaning"]').textContent()).toContain('pump.vib_h');
    expect(await page.locator('[data-chart="Anomaly rate"] svg path.line').count()).toBe(1);
    expect(await page.locator('[data-testid="desired-actual"]').textContent()).toContain('1.0.0');
    await page.screenshot({ path: join(SHOTS, 'agent.png'), fullPage: true });
  });

  it('lets an operator confirm a prediction, storing the label', async () => {
    const row = page.locator('[data-testid="predictions"] tbody tr').first();
    const id = await row.getAttribute('data-prediction');
    const labelled = page.locator(`[data-prediction="${id}"]`);
    await labelled.locator('button[data-action="confirm"]').click();
    await labelled
      .locator('[data-label="confirmed_failure"]')
      .waitFor({ timeout: 15_000 })
      .catch(async (err: unknown) => {
        throw new Error(`no label shown; the row says: ${await labelled.textContent()}`, { cause: err });
      });
    const stored = await waitFor('the label through the API', async () => {
      const list = await predictions('b-pump-1', cp.adminToken);
      return list?.find((p) => p.predictionId === id && p.label?.kind === 'confirmed_failure');
    });
    expect(stored.predictionId).toBe(id);
  });

  it('updates the overview live when an agent goes offline, without a reload', async () => {
    await page.goto(`${cp.httpUrl}/#/`);
    await page.locator('[data-agent="b-fan-2"][data-health="online"]').waitFor({ timeout: 30_000 });
    await page.evaluate("window.marker = 'same-page'");
    await agents.get('b-fan-2')!.stop();
    await page.locator('[data-agent="b-fan-2"][data-health="offline"]').waitFor({ timeout: 60_000 });
    expect(await page.evaluate('window.marker')).toBe('same-page');
    expect(await page.locator('[data-testid="attention"] [data-agent="b-fan-2"]').first().textContent()).toMatch(
      /offline/,
    );
    await page.screenshot({ path: join(SHOTS, 'overview-offline.png'), fullPage: true });
  });

  it('shows a read-only viewer no label actions and refuses the label on the server', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1024, height: 900 } });
    const viewer = await ctx.newPage();
    await viewer.goto(`${cp.httpUrl}/?token=${viewerToken}#/agents/b-pump-1`);
    await viewer.locator('[data-testid="predictions"] tbody tr').first().waitFor({ timeout: 30_000 });
    expect(await viewer.locator('button[data-action="confirm"]').count()).toBe(0);
    expect(await viewer.locator('#signin').textContent()).toContain('viewer');
    const refused = await viewer.evaluate(async (token) => {
      const res = await fetch('/api/labels', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ predictionId: 'x:1', kind: 'false_alarm' }),
      });
      return { status: res.status, body: (await res.json()) as { error: { code: string } } };
    }, viewerToken);
    expect(refused).toMatchObject({ status: 403, body: { error: { code: 'PERMISSION_DENIED' } } });
    await viewer.screenshot({ path: join(SHOTS, 'agent-viewer.png'), fullPage: true });
    await ctx.close();
  });

  it('is usable by keyboard and in large-text mode on a control-room screen', async () => {
    const ctx = await browser.newContext({ viewport: { width: 2560, height: 1440 } });
    const wall = await ctx.newPage();
    await wall.goto(`${cp.httpUrl}/?token=${cp.adminToken}#/`);
    await wall.locator('[data-agent="b-pump-1"]').waitFor({ timeout: 30_000 });
    await wall.keyboard.press('Tab');
    expect(await wall.evaluate('document.activeElement.textContent')).toBe('Skip to content');
    await wall.locator('#large-text').focus();
    await wall.keyboard.press('Enter');
    expect(await wall.locator('#large-text').getAttribute('aria-pressed')).toBe('true');
    expect(await wall.evaluate("document.documentElement.classList.contains('large')")).toBe(true);
    await wall.locator('a[data-nav="models"]').focus();
    await wall.keyboard.press('Enter');
    await wall.locator('[data-model="bearing-health"]').waitFor({ timeout: 15_000 });
    expect(await wall.locator('[data-version="1.0.0"]').textContent()).toContain('snap-1.0.0');
    await wall.screenshot({ path: join(SHOTS, 'models-large.png'), fullPage: true });
    await ctx.close();
  });
});
