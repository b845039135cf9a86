import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArgs } from './args.js';
import { CliError } from './client.js';
import { timeoutOf, tokenOf } from './main.js';

describe('mwctl global options', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mw-cli-main-'));

  it('reads the token from --token-file or MW_TOKEN_FILE, trimmed', () => {
    const file = join(dir, 'token');
    writeFileSync(file, 'mw_abc.secret\n');
    expect(tokenOf(parseArgs(['fleet', 'ls', '--token-file', file]), {})).toBe('mw_abc.secret');
    expect(tokenOf(parseArgs(['fleet', 'ls']), { MW_TOKEN_FILE: file })).toBe('mw_abc.secret');
  });

  it('prefers flags over the environment and has no token when nothing is given', () => {
    const file = join(dir, 'flag-token');
    writeFileSync(file, 'from-file');
    expect(tokenOf(parseArgs(['fleet', 'ls', '--token', 'direct']), { MW_TOKEN_FILE: '/nonexistent' })).toBe('direct');
    expect(tokenOf(parseArgs(['fleet', 'ls', '--token-file', file]), { MW_TOKEN: 'env' })).toBe('from-file');
    expect(tokenOf(parseArgs(['fleet', 'ls']), { MW_TOKEN: 'env', MW_TOKEN_FILE: file })).toBe('env');
    expect(tokenOf(parseArgs(['fleet', 'ls']), {})).toBeUndefined();
  });

  it('refuses an unreadable or empty token file with a usage error', () => {
    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n');
    for (const file of ['/nonexistent/token', empty]) {
      expect(() => tokenOf(parseArgs(['fleet', 'ls', '--token-file', file]), {})).toThrow(CliError);
    }
  });

  it('takes --timeout in milliseconds and refuses anything else', () => {
    expect(timeoutOf(undefined)).toBe(15_000);
    expect(timeoutOf('2500')).toBe(2500);
    expect(() => timeoutOf('1h')).toThrow(/milliseconds/);
    expect(() => timeoutOf('0')).toThrow(CliError);
  });
});
