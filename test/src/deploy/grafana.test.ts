import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../harness/index.js';

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) out.push(join(e.parentPath, e.name));
  }
  return out;
}

describe('deploy/grafana/millwright.json', () => {
  it('references only metrics that the control plane or the agent registers', async () => {
    const dash = JSON.parse(await readFile(join(REPO_ROOT, 'deploy/grafana/millwright.json'), 'utf8')) as {
      panels: { targets?: { expr: string }[] }[];
    };
    const exprs = dash.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    const referenced = new Set(
      exprs.flatMap((e) => [...e.matchAll(/\bmw_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ''))),
    );
    expect(referenced.size).toBeGreaterThan(15);
    const files = [
      ...(await sources(join(REPO_ROOT, 'control-plane/src'))),
      ...(await sources(join(REPO_ROOT, 'edge-agent/src'))),
    ];
    const text = (await Promise.all(files.map((f) => readFile(f, 'utf8')))).join('\n');
    const registered = new Set([...text.matchAll(/name: '(mw_[a-z0-9_]+)'/g)].map((m) => m[1]!));
    expect([...referenced].filter((m) => !registered.has(m))).toEqual([]);
  });
});
