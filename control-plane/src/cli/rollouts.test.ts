import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArgs } from './args.js';
import { CliError } from './client.js';
import { specFromArgs } from './rollouts.js';

const spec = (...argv: string[]) => specFromArgs(parseArgs(['rollouts', 'start', ...argv]));

describe('mwctl rollouts --config', () => {
  it('puts an inline JSON layer into a config-only spec', () => {
    const s = spec('--model', 'press', '--config', '{"alerts":{"holdOffS":42}}', '--stages', '50:0,100:0');
    expect(s.version).toBe('');
    expect(s.config).toEqual({ alerts: { holdOffS: 42 } });
    expect(s.stages.map((x) => x.percent)).toEqual([50, 100]);
  });

  it('reads @file.json and keeps the model version when given', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'mw-cli-')), 'layer.json');
    writeFileSync(file, JSON.stringify({ cleaning: { defaults: { hampel: { k: 6 } } } }));
    const s = spec('--model', 'press', '--version', '1.2.0', '--config', `@${file}`);
    expect(s.version).toBe('1.2.0');
    expect(s.config).toEqual({ cleaning: { defaults: { hampel: { k: 6 } } } });
  });

  it('leaves config out without the flag', () => {
    expect(spec('--model', 'press', '--version', '1.2.0').config).toBeUndefined();
  });

  it('refuses what is not a JSON object with a usage error', () => {
    for (const bad of ['[1,2]', '42', '{not json', '@/nonexistent/layer.json']) {
      expect(() => spec('--model', 'press', '--config', bad)).toThrow(CliError);
    }
    expect(() => spec('--model', 'press', '--config', '[1]')).toThrow(/JSON object/);
  });
});
