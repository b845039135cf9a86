import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadAgentConfig } from '@millwright/edge-agent/config.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accepts, deployPath, ENV, readDeploy, which } from './support.js';

const exec = promisify(execFile);
const unit = readDeploy('systemd/mw-agent.service');

function directives(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = line.match(/^([A-Za-z]+)=(.*)$/);
    if (m) out.set(m[1]!, [...(out.get(m[1]!) ?? []), m[2]!]);
  }
  return out;
}

describe('deploy/systemd/mw-agent.service', () => {
  const d = directives(unit);

  it('runs mw-agent as the millwright user with the config in /etc/millwright', () => {
    expect(d.get('User')).toEqual(['millwright']);
    expect(d.get('ExecStart')?.[0]).toBe(
      '/usr/bin/node /opt/millwright/agent/dist/main.js --config /etc/millwright/agent.yaml',
    );
  });

  it('restarts on failure with a delay, but not on a config error (exit 2)', () => {
    expect(d.get('Restart')).toEqual(['on-failure']);
    expect(d.get('RestartSec')).toEqual(['5s']);
    expect(d.get('RestartPreventExitStatus')).toEqual(['2']);
    expect(d.get('StartLimitIntervalSec')).toEqual(['0']);
  });

  it('is hardened: read-only system, writable state directory, no new privileges', () => {
    expect(d.get('ProtectSystem')).toEqual(['strict']);
    expect(d.get('ReadWritePaths')).toEqual(['/var/lib/millwright']);
    expect(d.get('StateDirectory')).toEqual(['millwright']);
    expect(d.get('NoNewPrivileges')).toEqual(['true']);
    expect(d.get('CapabilityBoundingSet')).toEqual(['']);
    expect(d.get('MemoryDenyWriteExecute')).toBeUndefined();
  });

  it('logs to journald with a rate limit', () => {
    expect(d.get('StandardOutput')).toEqual(['journal']);
    expect(d.get('LogRateLimitBurst')).toBeDefined();
  });

  it('sets only MW_ variables the agent reads', () => {
    const vars = (d.get('Environment') ?? []).map((e) => e.split('=')[0]!).filter((n) => n.startsWith('MW_'));
    expect(vars.filter((v) => !accepts(ENV.agent, v))).toEqual([]);
  });

  it('passes systemd-analyze verify without a warning', async () => {
    const analyze = which('systemd-analyze');
    if (!analyze) throw new Error('systemd-analyze not found: apt-get install -y systemd (bash .ci/bootstrap does it)');
    const dir = await mkdtemp(join(tmpdir(), 'mw-unit-'));
    try {
      // verify checks that ExecStart exists: point it at this machine's node, as install.sh does.
      const file = join(dir, 'mw-agent.service');
      await writeFile(file, unit.replace('ExecStart=/usr/bin/node ', `ExecStart=${process.execPath} `));
      const { stdout, stderr } = await exec(analyze!, ['verify', file]);
      expect((stdout + stderr).trim()).toBe('');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('deploy/systemd/agent.yaml', () => {
  it('is a config the real agent config loader accepts', () => {
    const cfg = loadAgentConfig({ env: {}, fileText: readDeploy('systemd/agent.yaml') });
    expect(cfg.dataDir).toBe('/var/lib/millwright');
    expect(cfg.nats.credsFile).toBe('/etc/millwright/creds/nats.creds');
  });
});

describe('deploy/systemd/install.sh', () => {
  let work: string;
  let app: string;
  const script = deployPath('systemd/install.sh');
  const run = (...args: string[]) => exec('bash', [script, ...args]);

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'mw-install-'));
    app = join(work, 'app');
    await mkdir(join(app, 'dist'), { recursive: true });
    await mkdir(join(app, 'node_modules'), { recursive: true });
    await writeFile(join(app, 'dist/main.js'), '// agent\n');
  });

  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('passes bash -n', async () => {
    await exec('bash', ['-n', script]);
  });

  it('refuses to run without a built app', async () => {
    await expect(run('--root', join(work, 'none'), '--app', join(work, 'missing'))).rejects.toThrow(
      /dist\/main\.js not found/,
    );
  });

  it('stages the app, unit, config and directories with their permissions, and is idempotent', async () => {
    const root = join(work, 'root');
    const creds = join(work, 'agent.creds');
    await writeFile(creds, 'creds');
    await run('--root', root, '--app', app, '--creds', creds, '--no-start');
    const mode = async (p: string) => ((await stat(join(root, p))).mode & 0o777).toString(8);
    expect(await mode('etc/millwright')).toBe('750');
    expect(await mode('etc/millwright/creds')).toBe('700');
    expect(await mode('etc/millwright/creds/nats.creds')).toBe('600');
    expect(await mode('etc/millwright/agent.yaml')).toBe('640');
    expect(await mode('var/lib/millwright')).toBe('700');
    expect(await readFile(join(root, 'opt/millwright/agent/dist/main.js'), 'utf8')).toBe('// agent\n');
    const installedUnit = await readFile(join(root, 'etc/systemd/system/mw-agent.service'), 'utf8');
    expect(installedUnit).toMatch(/^ExecStart=\S*node \/opt\/millwright\/agent\/dist\/main\.js/m);

    // The operator edits the config; a second run (an upgrade) keeps it and the previous app.
    await writeFile(join(root, 'etc/millwright/agent.yaml'), 'agentId: edited\n');
    await writeFile(join(app, 'dist/main.js'), '// agent v2\n');
    await run('--root', root, '--app', app, '--no-start');
    expect(await readFile(join(root, 'etc/millwright/agent.yaml'), 'utf8')).toBe('agentId: edited\n');
    expect(await readFile(join(root, 'opt/millwright/agent/dist/main.js'), 'utf8')).toBe('// agent v2\n');
    expect(await readFile(join(root, 'opt/millwright/agent.prev/dist/main.js'), 'utf8')).toBe('// agent\n');
  });
});
