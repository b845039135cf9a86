import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { subjects } from '@millwright/proto';
import { describe, expect, it } from 'vitest';
import { mwctl, REPO_ROOT } from '../harness/index.js';
import { accepts, DEPLOY, deployFiles, ENV, parseYaml, readDeploy, unknownConfigKeys, yamlDocs } from './support.js';

const STREAM_NAMES = new Set<string>(Object.values(subjects.STREAMS));

function mwVars(text: string): string[] {
  return [...new Set(text.match(/\bMW_[A-Z0-9_]+\b/g) ?? [])].filter((v) => !STREAM_NAMES.has(v));
}

describe('every MW_ variable named in deploy/ and docs/OPERATIONS.md is read by a binary', () => {
  const sources = [...deployFiles().map((f) => join(DEPLOY, f)), join(REPO_ROOT, 'docs/OPERATIONS.md')];
  const all = new Set([...ENV.controlPlane, ...ENV.agent, ...ENV.mwctl]);

  it('finds variables to check (the scan works)', () => {
    const found = sources.flatMap((f) => mwVars(readFileSync(f, 'utf8')));
    expect(found).toContain('MW_DATABASE_URL_FILE');
    expect(found).toContain('MW_AGENT_ID');
  });

  it.each(sources.map((f) => [f.slice(REPO_ROOT.length)]))('%s names only variables a binary accepts', (rel) => {
    const text = readFileSync(join(REPO_ROOT, rel), 'utf8');
    const unknown = mwVars(text).filter((v) => !accepts(all, v));
    expect(unknown).toEqual([]);
  });
});

describe('every config key in the deploy YAML configs is one the binaries read', () => {
  const k8s = (...p: string[]) => join(DEPLOY, 'kubernetes', ...p);
  /** Each config file the deployment ships, as text, with the variables of the binary that loads it. */
  const configs: [string, () => string, Set<string>][] = [
    [
      'kubernetes/base/configmap.yaml',
      () => (yamlDocs(k8s('base/configmap.yaml'))[0] as { data: Record<string, string> }).data['control-plane.yaml']!,
      ENV.controlPlane,
    ],
    [
      'kubernetes/overlays/production/patch-config.yaml',
      () =>
        (yamlDocs(k8s('overlays/production/patch-config.yaml'))[0] as { path: string; value: string }[]).find(
          (op) => op.path === '/data/control-plane.yaml',
        )!.value,
      ENV.controlPlane,
    ],
    ['systemd/agent.yaml', () => readDeploy('systemd/agent.yaml'), ENV.agent],
  ];

  it.each(configs)('%s sets only keys of the schema', (_, text, vars) => {
    const doc = parseYaml(text());
    expect(Object.keys(doc as object).length).toBeGreaterThan(3);
    expect(unknownConfigKeys(vars, doc)).toEqual([]);
  });

  it('the key check catches a misspelt key that the loader would drop silently', () => {
    const doc = { grpc: { port: 7443, tsl: { certFile: '/x' } }, http: { tls: { certFile: '/a', keyfile: '/b' } } };
    expect(unknownConfigKeys(ENV.controlPlane, doc)).toEqual(['grpc.tsl.certFile', 'http.tls.keyfile']);
  });
});

describe("mwctl's own variables (ENV.mwctl) are read by its sources", () => {
  const cli = sourceText(join(REPO_ROOT, 'control-plane/src/cli'));
  it.each([...ENV.mwctl])('%s', (name) => {
    expect(cli).toMatch(new RegExp(`env\\.${name}\\b|'${name}'`));
  });
});

describe('the commands the deployment runs exist', () => {
  it('declares the bins mw-control-plane, mwctl and mw-agent at the paths the images and unit use', () => {
    const cp = JSON.parse(readFileSync(join(REPO_ROOT, 'control-plane/package.json'), 'utf8')) as {
      bin: Record<string, string>;
    };
    const agent = JSON.parse(readFileSync(join(REPO_ROOT, 'edge-agent/package.json'), 'utf8')) as {
      bin: Record<string, string>;
    };
    expect(cp.bin).toMatchObject({ 'mw-control-plane': './dist/main.js', mwctl: './dist/cli/main.js' });
    expect(agent.bin).toMatchObject({ 'mw-agent': './dist/main.js' });
  });

  it('knows `mwctl migrate` (it asks for a database URL instead of rejecting the command)', async () => {
    const res = await mwctl(['migrate']);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/migrate needs --database-url or MW_DATABASE_URL/);
    const unknown = await mwctl(['no-such-command']);
    expect(unknown.stderr).toMatch(/unknown command/);
  });
});

function sourceText(dir: string): string {
  return readdirSync(dir)
    .map((name) => {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) return sourceText(p);
      return p.endsWith('.ts') && !p.endsWith('.test.ts') ? readFileSync(p, 'utf8') : '';
    })
    .join('\n');
}

describe('docs/OPERATIONS.md names metrics the binaries export', () => {
  it('finds every mw_ metric of the guide registered in control-plane or edge-agent sources', () => {
    const doc = readFileSync(join(REPO_ROOT, 'docs/OPERATIONS.md'), 'utf8');
    const kv = new Set<string>(Object.values(subjects.KV));
    const metrics = [...new Set(doc.match(/\bmw_[a-z0-9_]+\b/g) ?? [])].filter((m) => !kv.has(m));
    expect(metrics).toContain('mw_dead_letters_total');
    const src = sourceText(join(REPO_ROOT, 'control-plane/src')) + sourceText(join(REPO_ROOT, 'edge-agent/src'));
    expect(metrics.filter((m) => !src.includes(`'${m}'`))).toEqual([]);
  });
});
