import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigSchema } from '@millwright/control-plane/config.js';
import { AgentConfigSchema } from '@millwright/edge-agent/config.js';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../harness/index.js';
import { deployPath, readDeploy } from './support.js';

/** Static checks only: there is no Docker engine on these machines, so no image is built here. */
const IMAGES = [
  {
    file: 'control-plane.Dockerfile',
    pkg: 'control-plane',
    bins: { 'mw-control-plane': '/app/dist/main.js', mwctl: '/app/dist/cli/main.js' },
    cmd: 'mw-control-plane',
    port: ConfigSchema.parse({ replicaId: 'x' }).http.port,
  },
  {
    file: 'agent.Dockerfile',
    pkg: 'edge-agent',
    bins: { 'mw-agent': '/app/dist/main.js' },
    cmd: 'mw-agent',
    port: AgentConfigSchema.parse({ agentId: 'a', siteId: 's' }).http.port,
  },
] as const;

function stages(text: string): { from: string; name?: string; body: string }[] {
  const parts = text.split(/^(?=FROM )/m).slice(1);
  return parts.map((p) => {
    const m = p.match(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i);
    return { from: m?.[1] ?? '', name: m?.[2], body: p };
  });
}

describe.each(IMAGES)('deploy/docker/$file', (img) => {
  const text = readDeploy('docker', img.file);
  const st = stages(text);
  const runtime = st[st.length - 1]!;

  it('is multi-stage: a build stage and a runtime stage on a Node 22+ glibc base', () => {
    expect(st.length).toBeGreaterThanOrEqual(2);
    expect(st.map((s) => s.name)).toEqual(['build', 'runtime']);
    expect(text).toMatch(/^ARG NODE_IMAGE=node:(2[2-9]|[3-9]\d)-bookworm-slim$/m);
    expect(runtime.body).not.toMatch(/pnpm install|tsc/);
  });

  it('runs as a non-root user in the final stage', () => {
    const users = [...runtime.body.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]!);
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
  });

  it('installs the pnpm version the workspace pins and skips dependency build scripts', () => {
    const root = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { packageManager: string };
    expect(text).toContain(`ARG PNPM_VERSION=${root.packageManager.replace('pnpm@', '')}`);
    expect(text).toContain('pnpm install --frozen-lockfile');
    expect(text).not.toMatch(/dangerously-allow-all-builds|onlyBuiltDependencies/);
    expect(text).toContain(`pnpm --filter @millwright/${img.pkg} deploy --prod`);
  });

  it('copies only paths that exist in the repository', () => {
    for (const m of text.matchAll(/^COPY (?!--from)(.+) (\S+)$/gm)) {
      for (const src of m[1]!.split(/\s+/)) expect(existsSync(join(REPO_ROOT, src)), src).toBe(true);
    }
  });

  it("links each bin to the package's own bin path and runs it", () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, img.pkg, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
    };
    for (const [bin, path] of Object.entries(img.bins)) {
      expect(pkg.bin[bin]?.replace('./', '/app/')).toBe(path);
      expect(runtime.body).toContain(`ln -s ${path} /usr/local/bin/${bin}`);
    }
    expect(runtime.body).toMatch(new RegExp(`^CMD \\["${img.cmd}"\\]$`, 'm'));
  });

  it("health-checks the binary's HTTP port", () => {
    const hc = runtime.body.match(/^HEALTHCHECK[\s\S]*?CMD (.+)$/m)?.[1] ?? '';
    expect(hc).toMatch(/\/(healthz|readyz)/);
    expect(hc).toContain(`||${img.port})`);
  });

  it('has its own .dockerignore that keeps node_modules and dist out but the sources in', () => {
    const ignore = readFileSync(deployPath('docker', `${img.file}.dockerignore`), 'utf8').split('\n');
    expect(ignore).toEqual(expect.arrayContaining(['**/node_modules', '**/dist', '.git']));
    for (const needed of ['proto', 'control-plane', 'edge-agent', 'package.json', 'pnpm-lock.yaml']) {
      expect(ignore).not.toContain(needed);
    }
  });
});
