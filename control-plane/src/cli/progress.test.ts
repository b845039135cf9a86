import { describe, expect, it } from 'vitest';
import { formatBytes, Progress, progressLine, summaryLine } from './progress.js';

describe('upload progress', () => {
  it('formats sizes in binary units', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(256 * 1024 * 1024)).toBe('256.0 MiB');
  });

  it('draws bytes, percent and rate', () => {
    expect(progressLine(1024 * 1024, 4 * 1024 * 1024, 500)).toBe(
      `[=======>${' '.repeat(22)}]  25%  1.0 MiB / 4.0 MiB  2.0 MiB/s`,
    );
    expect(progressLine(10, 10, 0)).toMatch(/^\[={30}\] 100%/);
  });

  it('writes a single summary line when stderr is not a terminal', () => {
    const out: string[] = [];
    let t = 0;
    const p = new Progress({ isTTY: false, write: (s: string) => out.push(s) }, 2048, () => t);
    p.advance(1024);
    t = 2000;
    p.advance(1024);
    p.finish();
    expect(out).toEqual([`${summaryLine(2048, 2000)}\n`]);
    expect(out[0]).toBe('uploaded 2.0 KiB in 2.0 s (1.0 KiB/s)\n');
  });

  it('redraws the bar in place on a terminal, at most every 100 ms', () => {
    const out: string[] = [];
    let t = 0;
    const p = new Progress({ isTTY: true, write: (s: string) => out.push(s) }, 100, () => t);
    p.advance(10);
    p.advance(10);
    t = 150;
    p.advance(10);
    p.finish();
    expect(out).toHaveLength(3);
    expect(out.every((s) => s.startsWith('\r['))).toBe(true);
    expect(out[2]).toMatch(/ 30%.*\n$/);
  });
});
