import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

/** Self time per function from the V8 .cpuprofile files in `dir`, top `n` as printable lines. */
export function topSelfTime(dir: string, n = 15): string[] {
  const self = new Map<string, number>();
  let total = 0;
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.cpuprofile'))) {
    const p = JSON.parse(readFileSync(join(dir, f), 'utf8')) as {
      nodes: ProfileNode[];
      samples: number[];
      timeDeltas: number[];
    };
    const byId = new Map(p.nodes.map((node) => [node.id, node]));
    p.samples.forEach((id, i) => {
      const cf = byId.get(id)?.callFrame;
      const dt = p.timeDeltas[i] ?? 0;
      total += dt;
      const where = cf ? `${cf.functionName || '(anonymous)'} ${shortUrl(cf.url)}:${cf.lineNumber + 1}` : '?';
      self.set(where, (self.get(where) ?? 0) + dt);
    });
  }
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, us]) => `${((100 * us) / Math.max(1, total)).toFixed(1).padStart(5)}%  ${k}`);
}

function shortUrl(url: string): string {
  const i = url.indexOf('node_modules/.pnpm/');
  if (i >= 0) return url.slice(i + 19).replace(/\/node_modules\//, ' ');
  return url.replace(/^file:\/\/.*?\/(control-plane|proto)\//, '$1/');
}

/**
 * `--cpu-prof` is refused in NODE_OPTIONS, `--require` is not: this preload profiles the process
 * from start to exit with the in-process inspector (its session calls back synchronously, so the
 * profile is written inside the exit handler). Returns the NODE_OPTIONS value.
 */
export function cpuProfileNodeOptions(dir: string): string {
  const preload = join(dir, 'cpu-profile-preload.cjs');
  writeFileSync(
    preload,
    `const inspector = require('node:inspector');
const fs = require('node:fs');
const session = new inspector.Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: 500 });
session.post('Profiler.start');
process.on('exit', () => {
  session.post('Profiler.stop', (err, res) => {
    if (!err) fs.writeFileSync(${JSON.stringify(dir)} + '/cp-' + process.pid + '.cpuprofile', JSON.stringify(res.profile));
  });
});
`,
  );
  return `--require ${preload}`;
}
