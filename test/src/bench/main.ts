#!/usr/bin/env node
/**
 * `pnpm bench [suite...] [-- args]`: runs benchmark suites (never part of `pnpm test`) and prints
 * one JSON object per figure on stdout. Suites live in ./suites/<name>.ts and export `run(ctx)`.
 */
import { makeContext } from './report.js';

export const SUITES = ['edge', 'control-plane', 'plant', 'rollouts'] as const;

async function main(argv: string[]): Promise<void> {
  // Suite names come first; everything from the first option on belongs to the suites
  // (`pnpm bench plant -- --data DIR` arrives with or without the `--`, depending on pnpm).
  const rest = argv.filter((a) => a !== '--');
  const firstOption = rest.findIndex((a) => a.startsWith('-'));
  const names = firstOption >= 0 ? rest.slice(0, firstOption) : rest;
  const args = firstOption >= 0 ? rest.slice(firstOption) : [];
  const unknown = names.filter((n) => !(SUITES as readonly string[]).includes(n));
  if (unknown.length > 0) {
    process.stderr.write(`unknown bench suite(s): ${unknown.join(', ')}; known: ${SUITES.join(', ')}\n`);
    process.exitCode = 2;
    return;
  }
  for (const name of names.length > 0 ? names : SUITES) {
    const mod = (await import(`./suites/${name}.js`)) as { run(ctx: ReturnType<typeof makeContext>): Promise<void> };
    process.stderr.write(`== bench ${name}\n`);
    await mod.run(makeContext(name, args));
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
